"""The daemon's link drivers, each run in a cancel scope of its own so that a reload can swap it.

Owns which driver object serves each link name (`drivers`), the tasks that run them, and the
receive callback each one is given. A reload (daemon/reload.py) hands over a new set of
drivers: the ones it keeps are the very same objects and are not touched; a removed or
changed link's old driver is cancelled (it closes its socket or port) and only once it has
exited does its replacement open the same interface or device, so a serial port, which is
opened exclusively, is never wanted by two drivers at once.

A driver that is no longer in `drivers` may still deliver a datagram it had already read
before its cancellation reached it: its callback checks that it is still the link's driver,
and drops the bytes otherwise, so the engine never sees a link the configuration lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio

from twinbeat.config import Bcast, Config, Mcast, Serial, Ucast
from twinbeat.links import Carrier, Deliver, LinkDriver
from twinbeat.links.serial import SerialLink
from twinbeat.links.udp import UdpLink


def build_drivers(config: Config, keep: Mapping[str, LinkDriver] | None = None
                  ) -> dict[str, LinkDriver]:
    """One driver per ha.cf link, in ha.cf order; `keep`: drivers to reuse, by name."""
    drivers: dict[str, LinkDriver] = {}
    for link in config.hacf.links:
        kept = (keep or {}).get(link.name)
        if kept is not None:
            drivers[link.name] = kept
            continue
        match link.medium:
            case Serial():
                drivers[link.name] = SerialLink(link, config.hacf.baud)
            case Bcast() | Ucast() | Mcast():
                drivers[link.name] = UdpLink(link, config.hacf.udpport)
    return drivers


class LinkSet:
    """See the module docstring. `deliver(name, data)` is the daemon's receive callback."""

    def __init__(self, drivers: dict[str, LinkDriver], deliver: Deliver,
                 carrier: Carrier | None = None) -> None:
        self.drivers = drivers
        self._deliver = deliver
        self._carrier = carrier
        self._running: dict[LinkDriver, tuple[trio.CancelScope, trio.Event]] = {}

    async def start_all(self, nursery: trio.Nursery) -> None:
        """Open every link (each driver's first attempt), as at start-up."""
        for driver in self.drivers.values():
            await nursery.start(self._run, driver)

    def replace(self, drivers: dict[str, LinkDriver], nursery: trio.Nursery) -> None:
        """A reload's drivers: from now on only these deliver; the others are stopped and
        the new ones started after the driver they replace has exited."""
        old = self.drivers
        self.drivers = drivers
        for name, driver in old.items():
            if drivers.get(name) is not driver:
                nursery.start_soon(self._swap, driver, drivers.get(name))
        for name, driver in drivers.items():
            if name not in old:
                nursery.start_soon(self._swap, None, driver)

    async def _swap(self, old: LinkDriver | None, new: LinkDriver | None) -> None:
        if old is not None and old in self._running:
            scope, done = self._running[old]
            scope.cancel()
            await done.wait()
        if new is not None and self.drivers.get(new.name) is new:
            await self._run(new)

    async def _run(self, driver: LinkDriver, *,
                   task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        scope, done = trio.CancelScope(), trio.Event()
        self._running[driver] = (scope, done)
        try:
            with scope:
                await driver.run(self._callback(driver), carrier=self._carrier_callback(driver),
                                 task_status=task_status)
        finally:
            del self._running[driver]
            done.set()

    def _callback(self, driver: LinkDriver) -> Deliver:
        def deliver(name: str, data: bytes) -> bool:
            """The daemon's answer (was it authentic?), or False for a replaced driver."""
            return self.drivers.get(name) is driver and self._deliver(name, data)

        return deliver

    def _carrier_callback(self, driver: LinkDriver) -> Carrier | None:
        report = self._carrier
        if report is None:
            return None

        def carrier(name: str, up: bool) -> None:
            """Passed on while `driver` is the link's current one: a replaced driver's last
            word on its physical layer must not reach the core about its successor."""
            if self.drivers.get(name) is driver:
                report(name, up)

        return carrier


def drivers_view(links: Mapping[str, LinkDriver],
                 dropped: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """The drivers' own counters per link (`drivers` in `twinbeat status`): what the core
    never sees (send failures, line noise, reopens), with the inbox's queue-full drops."""
    return {name: {"open": link.up, **link.counters(), "queue_full_dropped": dropped[name]}
            for name, link in links.items()}
