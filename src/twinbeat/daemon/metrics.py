"""The daemon's metrics endpoint (ha.cf `metrics`): what it reads, and the tasks that serve it.

Wires metrics/ into the running daemon: `readings(daemon)` gathers one scrape's worth of
state (the core's snapshot through the engine, the monitor's checks, the links' driver
counters, the fence devices, the loop lag, the endpoint's own counters) and
`DaemonMetrics.run` starts the loop-lag sampler and one supervised server per endpoint in
its own nursery. Rendering happens in the event loop when a scrape arrives (at most about
once a second, metrics/httpd.py), from one reading taken at its start, and yields to the
loop after each metric family: prometheus_client's text format costs tens of microseconds
per series, so a cluster with many groups would otherwise hold the heartbeats back for the
whole render (bench/metrics_render.py). Nothing is polled between scrapes. Read-only:
nothing here changes the daemon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import trio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from twinbeat import __version__
from twinbeat.config.model import MetricsEndpoint
from twinbeat.daemon.linkset import drivers_view
from twinbeat.metrics.collector import Readings, SnapshotCollector
from twinbeat.metrics.httpd import MetricsServer
from twinbeat.metrics.looplag import LagStats, LoopLag

if TYPE_CHECKING:
    from twinbeat.daemon.root import Daemon


def readings(daemon: Daemon, lag: LagStats | None = None,
             endpoint: Mapping[str, int] | None = None) -> Readings:
    """One scrape's worth of the daemon's state."""
    assert daemon.engine is not None
    now = trio.current_time()
    return Readings(
        snapshot=daemon.engine.snapshot(),
        checks=daemon.monitor.view(now),
        drivers=drivers_view(daemon.links, daemon.events_in.dropped),
        fence_devices=daemon.fencer.view(now) if daemon.fencer.devices else (),
        loop_lag=lag,
        endpoint=endpoint or {},
        version=__version__,
    )


class Families(CollectorRegistry):
    """Some already-built families, as the registry `generate_latest` renders."""

    def __init__(self, families: Iterable[Metric]) -> None:
        super().__init__(auto_describe=False)
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


async def render_yielding(collector: SnapshotCollector) -> bytes:
    """`generate_latest` of the collector, one family at a time with a checkpoint after
    each, so the core task runs between them. One reading serves the whole render."""
    chunks = []
    for family in collector.collect():
        chunks.append(generate_latest(Families([family])))
        await trio.sleep(0)
    return b"".join(chunks)


class DaemonMetrics:
    """The endpoint's server and the loop-lag sampler, reading through `read`."""

    def __init__(self, endpoints: tuple[MetricsEndpoint, ...],
                 read: Callable[[LagStats, Mapping[str, int]], Readings]) -> None:
        self.endpoints = endpoints
        self.lag = LoopLag()
        self.server = MetricsServer(self.render)
        self.collector = SnapshotCollector(
            lambda: read(self.lag.stats, self.server.stats.counts()))

    @classmethod
    def of(cls, daemon: Daemon) -> DaemonMetrics:
        return cls(daemon.config.hacf.metrics,
                   lambda lag, endpoint: readings(daemon, lag, endpoint))

    async def render(self) -> bytes:
        return await render_yielding(self.collector)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.lag.run)
            for endpoint in self.endpoints:
                nursery.start_soon(self.server.run, endpoint)
            task_status.started()
