"""Unsolicited neighbour advertisements: IPv6's gratuitous ARP (RFC 4861 §7.2.6).

When an IPv6 VIP moves, the LAN's neighbour caches still map it to the old holder's MAC. An
unsolicited NA to all-nodes (ff02::1) with the Override flag and our MAC as the target
link-layer address makes every neighbour that has an entry for the VIP switch it to us
(Linux marks it STALE with the new address and confirms it on next use); a neighbour
without an entry ignores it and resolves the VIP afresh when it needs it, reaching us.

Sent from a raw ICMPv6 socket, opened once per agent, so the kernel builds the IPv6
header and computes the checksum (it covers the pseudo-header: RFC 3542 §3.1, as in
links/pinger.py). The socket is bound to the interface and to the VIP as its source, which
only works once the address is usable: the agent adds it with IFA_F_NODAD, so it is at once
(docs/resources.md says why DAD is skipped). Hop limit 255, or receivers drop it (§7.1.2).
The socket never receives: an ICMPv6 filter blocks every type.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from twinbeat.resources.garp import mac_bytes

ND_NEIGHBOR_ADVERT = 136
NA_FLAG_OVERRIDE = 0x20000000
ND_OPT_TARGET_LINKADDR = 2
ALL_NODES = "ff02::1"
HOP_LIMIT = 255
ICMP6_FILTER = 1  # linux/icmpv6.h: setsockopt(IPPROTO_ICMPV6, ICMP6_FILTER, ...)
BLOCK_ALL = b"\xff" * 32  # struct icmp6_filter: a set bit blocks that type


def na_packet(address: str, mac: bytes) -> bytes:
    """The ICMPv6 part of an unsolicited NA for `address` at `mac` (checksum left to the
    kernel): Override set, Solicited and Router clear, one target link-layer option."""
    target = ipaddress.IPv6Address(address).packed
    return struct.pack("!BBHI16sBB6s", ND_NEIGHBOR_ADVERT, 0, 0, NA_FLAG_OVERRIDE, target,
                       ND_OPT_TARGET_LINKADDR, 1, mac)


class NaSender:
    """A send-only ICMPv6 socket on one interface, a pre-built NA for one address; the same
    shape as garp.GarpSender (`send`, `close`), so the agent announces either the same way."""

    def __init__(self, ifname: str, mac: str, address: str, ifindex: int) -> None:
        self.ifname = ifname
        self.mac = mac
        self.address = address
        self._packet = na_packet(address, mac_bytes(mac))
        self._destination = (ALL_NODES, 0, 0, ifindex)
        self._sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        try:
            self._sock.setblocking(False)
            self._sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, BLOCK_ALL)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, HOP_LIMIT)
            self._sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
            self._sock.bind((address, 0, 0, ifindex))
        except BaseException:
            self._sock.close()
            raise

    def send(self) -> None:
        """Send the advertisement once; raises OSError (e.g. ENETDOWN)."""
        self._sock.sendto(self._packet, self._destination)

    def close(self) -> None:
        self._sock.close()
