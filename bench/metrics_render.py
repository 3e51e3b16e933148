"""What one scrape of the metrics endpoint costs the daemon's event loop (docs/metrics.md).

A render (`DaemonMetrics.render`: the collector over a snapshot, then prometheus_client's
text format) runs in the loop that sends heartbeats. It yields to the loop between metric
families, so what a heartbeat may wait for is one family's text, not the whole render. This
renders the snapshot of a pair with two links and G groups of three resources, with
fencing, R times per G, family by family as the daemon does, and prints the median and p99
of the whole render (CPU per scrape) and of its longest family (the longest the loop is
held), in ms. Not a test: nothing here asserts timing.

    .venv/bin/python bench/metrics_render.py [--runs 500] [--groups 1,8,64]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from prometheus_client import generate_latest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "metrics"))

from test_collector import CHECKS, DEVICES, DRIVERS, GROUP, SNAPSHOT

from twinbeat.daemon.metrics import Families
from twinbeat.metrics.collector import Readings, SnapshotCollector
from twinbeat.metrics.looplag import LagStats


def readings(groups: int) -> Readings:
    """The tests' snapshot with `groups` copies of its group (3 resources each)."""
    template = SNAPSHOT.groups[0]
    many = tuple(replace(template, key=f"{GROUP}#{n}") for n in range(groups))
    checks = {g.key: CHECKS[GROUP] + CHECKS[GROUP][:1] for g in many}
    lag = LagStats()
    for sample in (0.0002, 0.001, 0.004):
        lag.add(sample)
    return Readings(replace(SNAPSHOT, groups=many), checks, DRIVERS, DEVICES, lag,
                    {"ok": 10}, "bench")


def render_ms(groups: int, runs: int) -> tuple[list[float], list[float], int]:
    """(whole renders, longest family of each), in ms, and the body's size."""
    data = readings(groups)
    collector = SnapshotCollector(lambda: data)
    size = len(b"".join(generate_latest(Families([f])) for f in collector.collect()))
    wholes, longest = [], []
    for _ in range(runs):
        start = time.perf_counter()
        worst = 0.0
        for family in collector.collect():
            began = time.perf_counter()
            generate_latest(Families([family]))
            worst = max(worst, time.perf_counter() - began)
        wholes.append((time.perf_counter() - start) * 1000)
        longest.append(worst * 1000)
    return sorted(wholes), sorted(longest), size


def p99(samples: list[float]) -> float:
    return samples[int(0.99 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--groups", default="1,8,64")
    args = parser.parse_args()
    print(f"(n = {args.runs} renders each; times in ms)")
    print("| groups | bytes | render median | render p99 | longest family median | p99 |")
    print("|---|---|---|---|---|---|")
    for groups in (int(g) for g in args.groups.split(",")):
        wholes, longest, size = render_ms(groups, args.runs)
        print(f"| {groups} | {size} | {statistics.median(wholes):.2f} | {p99(wholes):.2f} | "
              f"{statistics.median(longest):.2f} | {p99(longest):.2f} |")


if __name__ == "__main__":
    main()
