"""Ping nodes (ha.cf `ping`, `ping_group`, `ping6`): ICMP echo to decide whether this node is
isolated.

A node that can reach none of its ping nodes must not take over (it is probably the one that lost
the network, not its peer). This driver only measures; the decision is the core's, which gets a
`PingReachability` event whenever the answer changes.

A `ping HOST` line is one ping node; a `ping_group NAME HOST...` line is one ping node that is up
while any of its hosts answers. The node reaches its ping nodes while at least one is up, where up
means an echo reply within `deadping` (heartbeat's default: deadtime).

Hosts are IPv4 or IPv6 (docs/ping.md): ICMP echo over a raw IPv4 socket, ICMPv6 echo over a
raw IPv6 socket. A name is resolved once, to its IPv4 address when it has one (what the pinger
always did) and else to its IPv6 address, so that a name with only an AAAA record is pinged
rather than silently counted as unreachable for ever (issue #11, item 11).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import trio

log = logging.getLogger("twinbeat.ping")

ICMP_ECHO_REQUEST = 8
ICMP_ECHO_REPLY = 0
ICMP6_ECHO_REQUEST = 128
ICMP6_ECHO_REPLY = 129
ICMP6_FILTER = 1  # linux/icmpv6.h: setsockopt(IPPROTO_ICMPV6, ICMP6_FILTER, struct icmp6_filter)
PAYLOAD = b"twinbeat"

AddressKey = tuple[Any, ...]


class Target(NamedTuple):
    """Where one ping host's echo requests go, and how its replies are recognised."""

    family: int  # socket.AF_INET or socket.AF_INET6
    sockaddr: tuple[Any, ...]  # as getaddrinfo gives it (IPv6: with flowinfo and scope id)
    key: AddressKey  # address_key(family, sockaddr): equal for the replies it sends back


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
    checksum = icmp_checksum(header + PAYLOAD)
    return struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, checksum, ident, sequence) + PAYLOAD


def echo6_request(ident: int, sequence: int) -> bytes:
    """An ICMPv6 echo request with a zero checksum: the kernel always computes ICMPv6
    checksums on raw sockets (RFC 3542 §3.1), since they cover the IPv6 pseudo-header, whose
    source address only the kernel knows."""
    return struct.pack("!BBHHH", ICMP6_ECHO_REQUEST, 0, 0, ident, sequence) + PAYLOAD


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


def parse_echo6_reply(packet: bytes, ident: int) -> bool:
    """True for an ICMPv6 echo reply to us (raw IPv6 sockets give no IPv6 header)."""
    if len(packet) < 8:
        return False
    kind: int
    reply_ident: int
    kind, _code, _sum, reply_ident, _seq = struct.unpack_from("!BBHHH", packet)
    return kind == ICMP6_ECHO_REPLY and reply_ident == ident


def address_key(family: int, sockaddr: tuple[Any, ...]) -> AddressKey:
    """What identifies a ping host's address in a reply's source: the address itself, and
    for IPv6 the scope (interface index) as well, since fe80::1 on eth0 and on eth1 are two
    different hosts. Python may or may not print the scope into the text (`fe80::1%eth0`),
    so the text is parsed rather than compared."""
    address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
    if family == socket.AF_INET6:
        return (family, address, sockaddr[3] if address.is_link_local else 0)
    return (family, address)


def pick_target(infos: Iterable[tuple[Any, ...]]) -> Target | None:
    """The address to ping among getaddrinfo results: IPv4 first, else IPv6, else None."""
    found: dict[int, tuple[Any, ...]] = {}
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            found.setdefault(family, tuple(sockaddr))
    for family in (socket.AF_INET, socket.AF_INET6):
        if family in found:
            sockaddr = found[family]
            return Target(family, sockaddr, address_key(family, sockaddr))
    return None


def icmp6_filter_passing_echo_replies() -> bytes:
    """struct icmp6_filter letting only echo replies through: a raw ICMPv6 socket would
    otherwise wake the pinger for every neighbour discovery packet on the host. A set bit
    blocks its type (linux/icmpv6.h: data[type >> 5] & (1 << (type & 31)))."""
    words = [0xFFFFFFFF] * 8
    words[ICMP6_ECHO_REPLY >> 5] &= ~(1 << (ICMP6_ECHO_REPLY & 31)) & 0xFFFFFFFF
    return struct.pack("=8I", *words)


def _open_icmp6() -> tuple[trio.socket.SocketType | None, str | None]:
    """The raw ICMPv6 socket, or None and why (IPv6 disabled in the kernel, say): then only
    IPv6 ping hosts suffer, and each one says so once."""
    try:
        sock = trio.socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    except OSError as exc:
        return None, exc.strerror or str(exc)
    try:
        sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, icmp6_filter_passing_echo_replies())
    except OSError as exc:  # an optimisation only: replies are parsed and checked anyway
        log.debug("ICMPv6 filter not set: %s", exc)
    return sock, None


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
        self.targets: dict[str, Target] = {}  # ha.cf host -> resolved address
        self.sockets: dict[int, trio.socket.SocketType] = {}  # address family -> raw socket
        self._no_icmp6: str | None = None  # why there is no ICMPv6 socket
        self._told: set[str] = set()  # hosts already warned about (once each)

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
        v4 = trio.socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        v6, self._no_icmp6 = _open_icmp6()
        self.sockets = {int(socket.AF_INET): v4}
        if v6 is not None:
            self.sockets[int(socket.AF_INET6)] = v6
        try:
            self.started_at = trio.current_time()
            task_status.started()
            async with trio.open_nursery() as nursery:
                for family, sock in self.sockets.items():
                    nursery.start_soon(self._receive, sock, family)
                await self._probe_forever()
        finally:
            for sock in self.sockets.values():
                sock.close()

    async def _probe_forever(self) -> None:
        sequence = 0
        while True:
            sequence = (sequence + 1) & 0xFFFF
            for hosts in self.ping_nodes:
                for host in hosts:
                    await self._probe(host, sequence)
            self._evaluate(trio.current_time())
            await trio.sleep(self.interval)

    async def _probe(self, host: str, sequence: int) -> None:
        target = await self._target(host)
        if target is None:
            return
        sock = self.sockets.get(target.family)
        if sock is None:
            self._warn_once(host, "ping node %s: cannot ping over IPv6: %s", self._no_icmp6)
            return
        if target.family == socket.AF_INET6:
            packet = echo6_request(self.ident, sequence)
        else:
            packet = echo_request(self.ident, sequence)
        try:
            await sock.sendto(packet, target.sockaddr)
        except OSError as exc:
            log.debug("ping %s: %s", host, exc)

    async def _target(self, host: str) -> Target | None:
        """Where to ping `host`; names are resolved once, and retried until they are."""
        if host not in self.targets:
            try:
                infos = await trio.socket.getaddrinfo(host, None, type=socket.SOCK_RAW)
            except OSError as exc:  # socket.gaierror included
                log.warning("ping node %s: cannot resolve: %s", host, exc)
                return None
            target = pick_target(infos)
            if target is None:
                self._warn_once(host, "ping node %s: %s", "no IPv4 or IPv6 address")
                return None
            self.targets[host] = target
        return self.targets[host]

    def _warn_once(self, host: str, message: str, reason: str | None) -> None:
        if host not in self._told:
            self._told.add(host)
            log.warning(message, host, reason)

    async def _receive(self, sock: trio.socket.SocketType, family: int) -> None:
        parse = parse_echo6_reply if family == socket.AF_INET6 else parse_echo_reply
        while True:
            packet, sockaddr = await sock.recvfrom(2048)
            if not parse(packet, self.ident):
                continue
            key = address_key(family, sockaddr)
            now = trio.current_time()
            for host, target in self.targets.items():
                if target.key == key:
                    self.last_reply[host] = now
            self._evaluate(now)
