"""The daemon's own loop lag: how late the trio event loop wakes a task that asked to sleep.

Every task of the daemon (the core's, the links', the control socket's) shares one loop, so
anything that holds it (a long synchronous call, a CPU starved by other processes, a swap
storm) delays heartbeats by as much. A sampler task sleeps SAMPLE_INTERVAL at a time and
records by how much each wake-up was late; the histogram and the worst value go to the
metrics (`twinbeat_loop_lag_seconds`). A stall shorter than the interval is caught when it
covers a wake-up, so the histogram is a sample, not a census; its worst value is a floor
for the worst stall.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import trio

SAMPLE_INTERVAL = 0.05
# Upper bounds (s): from a loop in good health (under a ms) to one missing heartbeats.
BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class LagStats:
    """Every sample since start-up, binned: what the collector exposes."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))  # last: +Inf
    total: float = 0.0
    last: float = 0.0
    worst: float = 0.0

    @property
    def samples(self) -> int:
        return sum(self.counts)

    def add(self, lag: float) -> None:
        lag = max(0.0, lag)
        self.counts[bisect.bisect_left(BUCKETS, lag)] += 1
        self.total += lag
        self.last = lag
        self.worst = max(self.worst, lag)

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus' buckets: (upper bound, samples at or under it), `+Inf` last."""
        out, running = [], 0
        for bound, count in zip([*map(str, BUCKETS), "+Inf"], self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


class LoopLag:
    """The sampler task; `stats` is read by the metrics collector."""

    def __init__(self, interval: float = SAMPLE_INTERVAL) -> None:
        self.interval = interval
        self.stats = LagStats()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        due = trio.current_time() + self.interval
        while True:
            await trio.sleep_until(due)
            now = trio.current_time()
            self.stats.add(now - due)
            due = now + self.interval
