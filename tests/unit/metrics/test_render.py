"""daemon/metrics.py's render: exactly prometheus_client's text for the collector, built from
one reading, yielding to the event loop between metric families."""

from __future__ import annotations

import trio
from prometheus_client import CollectorRegistry, generate_latest
from test_collector import CHECKS, DEVICES, DRIVERS, SNAPSHOT

from twinbeat.daemon.metrics import render_yielding
from twinbeat.metrics.collector import Readings, SnapshotCollector
from twinbeat.metrics.looplag import LagStats

READINGS = Readings(SNAPSHOT, CHECKS, DRIVERS, DEVICES, LagStats(), {"ok": 2}, "0.1.0")


async def test_the_text_is_generate_latests_from_one_reading_with_checkpoints() -> None:
    reads = []

    def read() -> Readings:
        reads.append(1)
        return READINGS

    collector = SnapshotCollector(read)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    expected = generate_latest(registry)
    families = expected.count(b"\n# TYPE ") + 1
    reads.clear()
    turns = 0

    async def other_task() -> None:
        nonlocal turns
        while True:
            turns += 1
            await trio.sleep(0)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(other_task)
        await trio.sleep(0)
        before = turns
        body = await render_yielding(collector)
        nursery.cancel_scope.cancel()
    assert body == expected
    assert reads == [1]
    # The loop ran the other task between the families. trio runs each runnable task once
    # per scheduler batch in a random order, so the first and last batch may or may not
    # count: one turn of slack (a render that never yields gives the other task at most 1).
    assert turns - before >= families - 2
