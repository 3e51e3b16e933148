"""Ping nodes (ha.cf `ping`, `ping_group`): ICMP echo to decide whether this node is isolated.

A node that can reach none of its ping nodes must not take over (it is probably the one that lost
the network, not its peer). This driver only measures; the decision is the core's, which gets a
`PingReachability` event whenever the answer changes.

A `ping HOST` line is one ping node; a `ping_group NAME HOST...` line is one ping node that is up
while any of its hosts answers. The node reaches its ping nodes while at least one is up, where up
means an echo reply within `deadping` (heartbeat's default: deadtime).
"""

from __future__ import annotations

import logging
import os
import socket
import struct
from collections.abc import Callable, Sequence

import trio

log = logging.getLogger("twinbeat.ping")

ICMP_ECHO_REQUEST = 8
ICMP_ECHO_REPLY = 0


def icmp_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): one's complement of the one's complement sum."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(ident: int, sequence: int) -> bytes:
    header = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident, sequence)
    payload = b"twinbeat"
    checksum = icmp_checksum(header + payload)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, checksum, ident, sequence) + payload


def parse_echo_reply(packet: bytes, ident: int) -> bool:
    """True for an echo reply to us in a raw IPv4 packet (IP header included)."""
    if len(packet) < 20:
        return False
    header_len = (packet[0] & 0x0F) * 4
    icmp = packet[header_len : header_len + 8]
    if len(icmp) < 8:
        return False
    kind: int
    reply_ident: int
    kind, _code, _sum, reply_ident, _seq = struct.unpack("!BBHHH", icmp)
    return kind == ICMP_ECHO_REPLY and reply_ident == ident


class Pinger:
    """Pings every host each `interval`; reports reachability changes through `report(bool)`."""

    def __init__(
        self,
        ping_nodes: Sequence[Sequence[str]],
        interval: float,
        deadping: float,
        report: Callable[[bool], None],
    ) -> None:
        self.ping_nodes = [tuple(hosts) for hosts in ping_nodes]
        self.interval = interval
        self.deadping = deadping
        self.report = report
        self.ident = os.getpid() & 0xFFFF
        self.last_reply: dict[str, float] = {}
        self.reachable: bool | None = None
        self.started_at: float | None = None
        self.addresses: dict[str, str] = {}  # ha.cf host -> the IPv4 address replies come from

    def _evaluate(self, now: float) -> None:
        def up(host: str) -> bool:
            heard = self.last_reply.get(host)
            return heard is not None and now - heard <= self.deadping

        reachable = any(any(up(host) for host in hosts) for hosts in self.ping_nodes)
        # No verdict of "unreachable" before a reply had time to come back (deadping from the
        # start): otherwise every start would announce a false isolation.
        if not reachable and self.started_at is not None and now - self.started_at < self.deadping:
            return
        if reachable != self.reachable:
            self.reachable = reachable
            log.info("ping nodes %s", "reachable" if reachable else "unreachable: isolated?")
            self.report(reachable)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        with sock:
            self.started_at = trio.current_time()
            task_status.started()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._receive, sock)
                sequence = 0
                while True:
                    sequence = (sequence + 1) & 0xFFFF
                    packet = echo_request(self.ident, sequence)
                    for hosts in self.ping_nodes:
                        for host in hosts:
                            address = await self._address(host)
                            if address is None:
                                continue
                            try:
                                await sock.sendto(packet, (address, 0))
                            except OSError as exc:
                                log.debug("ping %s: %s", host, exc)
                    self._evaluate(trio.current_time())
                    await trio.sleep(self.interval)

    async def _address(self, host: str) -> str | None:
        """The IPv4 address of a ping host; names are resolved once, and retried until they are."""
        if host not in self.addresses:
            try:
                infos = await trio.socket.getaddrinfo(host, None, socket.AF_INET)
            except OSError as exc:
                log.warning("ping node %s: cannot resolve: %s", host, exc)
                return None
            self.addresses[host] = str(infos[0][4][0])  # AF_INET: (address, port)
        return self.addresses[host]

    async def _receive(self, sock: trio.socket.SocketType) -> None:
        while True:
            packet, (address, _port) = await sock.recvfrom(2048)
            if not parse_echo_reply(packet, self.ident):
                continue
            for host, host_address in self.addresses.items():
                if host_address == address:
                    self.last_reply[host] = trio.current_time()
            self._evaluate(trio.current_time())
