"""The snapshot and the status line (status.py): plain JSON-able data, built from the state."""

from __future__ import annotations

import json
from dataclasses import asdict

from core_helpers import A, B, joined


def test_snapshot_is_plain_json_data() -> None:
    node, _peer, _ = joined()
    data = json.loads(json.dumps(asdict(node.snapshot())))
    assert data["node"] == "calc"
    assert data["state"] == "active"
    assert data["generation"] == 7
    assert data["peers"][0]["links"][0]["counters"]["frames_ok"] == 1
    assert [g["key"] for g in data["groups"]] == [A, B]
    assert data["groups"][1]["local_state"] == "claiming"
