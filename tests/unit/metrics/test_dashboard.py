"""etc/grafana/twinbeat.json: valid JSON, and every metric it queries is one the collector
exports (a renamed metric would otherwise leave an empty panel behind)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_collector import CHECKS, DEVICES, DRIVERS, SNAPSHOT, scrape

from twinbeat.metrics.collector import Readings
from twinbeat.metrics.looplag import LagStats

DASHBOARD = Path(__file__).resolve().parents[3] / "etc" / "grafana" / "twinbeat.json"


def queried(node: object) -> set[str]:
    """Every `twinbeat_...` name in the dashboard's expressions and queries."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "query", "definition") and isinstance(value, str):
                found |= set(re.findall(r"twinbeat_[a-z_]+", value))
            else:
                found |= queried(value)
    elif isinstance(node, list):
        for item in node:
            found |= queried(item)
    return found


def test_every_queried_metric_is_exported() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    lag = LagStats()
    lag.add(0.001)
    exported = {name for name, _ in scrape(Readings(SNAPSHOT, CHECKS, DRIVERS, DEVICES, lag,
                                                    {"ok": 1}, "0.1.0"))}
    names = queried(dashboard)
    assert len(names) > 10
    assert names - exported == set()
    assert len(dashboard["panels"]) == len({p["id"] for p in dashboard["panels"]})
