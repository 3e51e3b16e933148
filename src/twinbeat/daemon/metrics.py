"""The daemon's metrics endpoint (ha.cf `metrics`): what it reads, and the tasks that serve it.

Wires metrics/ into the running daemon: `readings(daemon)` gathers one scrape's worth of
state (the core's snapshot through the engine, the monitor's checks, the links' driver
counters, the fence devices, the loop lag, the endpoint's own counters) and
`DaemonMetrics.run` starts the loop-lag sampler and one supervised server per endpoint in
its own nursery. Rendering happens in the event loop when a scrape arrives; nothing is
polled in between. Read-only: nothing here changes the daemon.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import trio
from prometheus_client import CollectorRegistry, generate_latest

from twinbeat import __version__
from twinbeat.config.model import MetricsEndpoint
from twinbeat.links import LinkDriver
from twinbeat.metrics.collector import Readings, SnapshotCollector
from twinbeat.metrics.httpd import MetricsServer
from twinbeat.metrics.looplag import LagStats, LoopLag

if TYPE_CHECKING:
    from twinbeat.daemon.root import Daemon


def drivers_view(links: Mapping[str, LinkDriver],
                 dropped: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """The drivers' own counters per link (`drivers` in `twinbeat status`): what the core
    never sees (send failures, line noise, reopens), with the inbox's queue-full drops."""
    return {name: {"open": link.up, **link.counters(), "queue_full_dropped": dropped[name]}
            for name, link in links.items()}


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


class DaemonMetrics:
    """The endpoint's server and the loop-lag sampler, reading through `read`."""

    def __init__(self, endpoints: tuple[MetricsEndpoint, ...],
                 read: Callable[[LagStats, Mapping[str, int]], Readings]) -> None:
        self.endpoints = endpoints
        self.lag = LoopLag()
        self.server = MetricsServer(self.render)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SnapshotCollector(
            lambda: read(self.lag.stats, self.server.stats.counts())))

    @classmethod
    def of(cls, daemon: Daemon) -> DaemonMetrics:
        return cls(daemon.config.hacf.metrics,
                   lambda lag, endpoint: readings(daemon, lag, endpoint))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.lag.run)
            for endpoint in self.endpoints:
                nursery.start_soon(self.server.run, endpoint)
            task_status.started()
