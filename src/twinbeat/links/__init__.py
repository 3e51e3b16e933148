"""Link drivers: move opaque frames between this node and its peer.

`udp.UdpLink` (ha.cf `bcast`/`ucast`/`mcast`) and `serial.SerialLink` (ha.cf `serial`) share
the `LinkDriver` shape below. They never look inside a frame (that is the wire's and the
engine's job) and never block the loop. `pinger.Pinger` is link-like too: it measures whether
the ping nodes answer and reports it; the core decides what that means.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import trio

from twinbeat.links.stats import LinkStats

# Called by a link for every datagram or serial frame: (link name, bytes). Must not block.
# True when the bytes were an authentic frame (links/admission.py trusts their source).
Deliver = Callable[[str, bytes], bool]
# Called by a link when its physical layer changes as far as it can see (link name, up):
# a NIC's carrier (links/carrier.py), a serial line's modem lines (links/modem.py) or a
# hang-up. Must not block. A driver that sees nothing never calls it.
Carrier = Callable[[str, bool], None]


class LinkDriver(Protocol):
    """What the daemon needs of a link: run it, send on it, ask how it is doing."""

    name: str
    up: bool

    async def run(
        self, deliver: Deliver, *, carrier: Carrier | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None: ...

    def send(self, data: bytes) -> bool: ...

    def counters(self) -> dict[str, int]: ...


__all__ = ["Carrier", "Deliver", "LinkDriver", "LinkStats"]
