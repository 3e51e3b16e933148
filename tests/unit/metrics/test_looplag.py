"""metrics/looplag.py: the sampler sees a loop that was held, and bins every sample."""

from __future__ import annotations

import time

import trio

from twinbeat.metrics.looplag import BUCKETS, LagStats, LoopLag


def test_samples_are_binned_cumulatively() -> None:
    stats = LagStats()
    for lag in (0.0, 0.001, 0.0015, 0.3, 7.0, -0.5):  # a negative lag counts as none
        stats.add(lag)
    buckets = dict(stats.cumulative())
    assert stats.samples == 6 and buckets["+Inf"] == 6
    assert buckets["0.001"] == 3  # 0, 0.001 and the clamped -0.5: "at or under"
    assert buckets["0.002"] == 4
    assert buckets["0.25"] == 4 and buckets["0.5"] == 5 and buckets["2.5"] == 5
    assert stats.worst == 7.0 and stats.last == 0.0
    assert [bound for bound, _ in stats.cumulative()] == [*map(str, BUCKETS), "+Inf"]


async def test_a_held_loop_is_seen() -> None:
    lag = LoopLag(interval=0.01)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            await nursery.start(lag.run)
            await trio.sleep(0.05)
            time.sleep(0.1)  # hold the event loop, as a long synchronous call would
            await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
    assert lag.stats.samples >= 3
    assert lag.stats.worst >= 0.08
