"""Interface facts for the UDP link, read through pyroute2 (never the `ip` command).

Owns: "does this interface exist and is it up, what is its index, its IPv4 addresses and
broadcast address, and which addresses are this host's own". Nothing here opens a data socket.
The sync `IPRoute` API is used from the trio thread: a query costs well under a millisecond
(DESIGN.md §9), less than one heartbeat's jitter budget.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pyroute2.iproute.linux import IPRoute  # a submodule: daemon/lean.py

IFF_UP = 0x1


class LinkUnavailableError(Exception):
    """The medium cannot be opened right now (interface missing, down, or without IPv4)."""


@dataclass(frozen=True, slots=True)
class IfaceInfo:
    index: int
    up: bool
    addresses: tuple[tuple[str, int, str | None], ...]  # (address, prefixlen, broadcast)

    def broadcast(self) -> str:
        """The IPv4 broadcast of the first address (`SIOCGIFBRDADDR` in heartbeat's bcast.c).

        `ip addr add A/N dev X` sets no broadcast unless told `brd +`, so compute it from
        the prefix when the kernel has none.
        """
        if not self.addresses:
            raise LinkUnavailableError("no IPv4 address, so no broadcast address")
        address, prefixlen, brd = self.addresses[0]
        if brd:
            return brd
        net = ipaddress.IPv4Network(f"{address}/{prefixlen}", strict=False)
        return str(net.broadcast_address)


def lookup(ipr: IPRoute, ifname: str) -> IfaceInfo:
    """Return the interface's facts or raise `LinkUnavailableError` if it does not exist."""
    indexes = ipr.link_lookup(ifname=ifname)
    if not indexes:
        raise LinkUnavailableError(f"no such interface {ifname}")
    index = indexes[0]
    links = ipr.get_links(index)
    up = bool(links and links[0]["flags"] & IFF_UP)
    addresses = tuple(
        (msg.get("address"), msg["prefixlen"], msg.get("broadcast"))
        for msg in ipr.get_addr(family=2, index=index)
        if msg.get("address")
    )
    return IfaceInfo(index=index, up=up, addresses=addresses)


def own_addresses(ipr: IPRoute) -> frozenset[str]:
    """Every IPv4 address configured on this host (in this network namespace)."""
    return frozenset(msg.get("address") for msg in ipr.get_addr(family=2) if msg.get("address"))
