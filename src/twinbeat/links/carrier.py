"""A NIC's physical layer, from rtnetlink events: is there carrier on this interface?

Owns one NETLINK_ROUTE socket per watched interface, subscribed to the link group
(RTMGRP_LINK). The kernel sends an RTM_NEWLINK the moment the interface's flags, carrier or
operstate change (a crossover peer losing power, a pulled cable, `ip link set down`) and an
RTM_DELLINK when it goes away; trio waits on the socket's fd like any other, so a change is
seen within a wake-up of happening and nothing is polled (never the `ip` command, never a
timer). pyroute2 decodes the messages (`MarshalRtnl`) and builds the one request sent: a dump
of the links, at start and whenever the socket overflowed (ENOBUFS: events were lost), so
the state reported is always the kernel's current one.

The interface has carrier when it is administratively up (IFF_UP), its lower layer is up
(IFF_LOWER_UP: the PHY sees a link partner) and its operstate is UP, or UNKNOWN for drivers
that do not track one. Anything else — no carrier, LOWERLAYERDOWN, DORMANT, the interface
missing or deleted — means this link cannot carry a frame now. What that means for the peer
is the core's business (`LinkCarrier`, docs/core.md): this only reports changes, and the
state found at start.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

import trio
from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE
from pyroute2.netlink.rtnl import RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, RTMGRP_LINK
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.marshal import MarshalRtnl

log = logging.getLogger("twinbeat.links")

IFF_UP = 0x1
IFF_LOWER_UP = 0x10000
CARRIER_OPERSTATES = frozenset({"UP", "UNKNOWN"})
RECV_SIZE = 65536
RETRY_DELAY = 1.0  # a netlink socket that cannot be opened is retried (and said once)

CarrierReport = Callable[[bool], None]


def has_carrier(msg: Any) -> bool:
    """Whether an RTM_NEWLINK message shows an interface that can carry frames."""
    flags = int(msg["flags"])
    operstate = msg.get_attr("IFLA_OPERSTATE")
    return bool(flags & IFF_UP and flags & IFF_LOWER_UP) and (
        operstate is None or operstate in CARRIER_OPERSTATES)


def dump_request(sequence: int) -> bytes:
    """An RTM_GETLINK dump request: every link of this namespace, as RTM_NEWLINK replies."""
    msg = ifinfmsg()
    msg["header"]["type"] = RTM_GETLINK
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_DUMP
    msg["header"]["sequence_number"] = sequence
    msg["family"] = socket.AF_UNSPEC
    msg.encode()
    return bytes(msg.data)


class NicCarrier:
    """Reports `report(up)` for interface `iface`: its state found at start, then each change."""

    def __init__(self, iface: str, report: CarrierReport,
                 changed: Callable[[], None] | None = None) -> None:
        """`changed()`, if given, is called for every message that names the interface
        (its flags, carrier or operstate moved, it went, or it came back): the UDP driver
        checks its socket then instead of polling (links/udp.py)."""
        self.iface = iface
        self.report = report
        self.changed = changed
        self.carrier: bool | None = None  # the last state reported
        self._marshal = MarshalRtnl()
        self._dumped = False  # the reply to our dump has been read (its end seen)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Watch until cancelled; `task_status.started()` once the state at start is known
        (or the socket failed: then nothing is reported, and the link keeps its timers)."""
        started = False
        while True:
            try:
                with trio.socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                                        socket.NETLINK_ROUTE) as sock:
                    await sock.bind((0, RTMGRP_LINK))
                    await self._watch(sock, task_status if not started else None)
                    started = True
            except OSError as exc:
                log.warning("link carrier of %s: netlink: %s", self.iface, exc.strerror)
                if not started:
                    task_status.started()
                    started = True
                await trio.sleep(RETRY_DELAY)

    async def _watch(self, sock: trio.socket.SocketType,
                     task_status: trio.TaskStatus[None] | None) -> None:
        """Dump, then follow events; dump again after an overflow (events were lost)."""
        sequence = 1
        await sock.send(dump_request(sequence))
        self._dumped = False
        seen = False  # our interface was in the dump
        while True:
            try:
                data = await sock.recv(RECV_SIZE)
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                sequence += 1
                await sock.send(dump_request(sequence))
                self._dumped, seen = False, False
                continue
            found = self._apply(self._marshal.parse(data))
            seen = seen or found
            if self._dumped and not seen:
                self._set(False)  # no such interface: nothing can cross it
                seen = True
            if self._dumped and task_status is not None:
                task_status.started()
                task_status = None

    def _apply(self, messages: Iterable[Any]) -> bool:
        """Apply what the kernel said of our interface; True if it named it."""
        named = False
        for msg in messages:
            kind = msg["header"]["type"]
            if kind == NLMSG_DONE:
                self._dumped = True  # the end of our dump: the state at start is known
            if kind not in (RTM_NEWLINK, RTM_DELLINK):
                continue
            if msg.get_attr("IFLA_IFNAME") != self.iface:
                continue
            named = True
            self._set(kind == RTM_NEWLINK and has_carrier(msg))
            if self.changed is not None:
                self.changed()
        return named

    def _set(self, carrier: bool) -> None:
        if carrier != self.carrier:
            self.carrier = carrier
            self.report(carrier)
