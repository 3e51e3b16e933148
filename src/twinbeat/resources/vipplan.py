"""Where an IPaddr resource's address goes: interface, prefix, broadcast and label.

Owns the planning of one virtual address's add (resources/ipaddr.py runs it), and the labels
this process's addresses hold per interface. Follows heartbeat's IPaddr script (reference
§6.1-6.2; ipaddr.py's module docstring): the interface and prefix come from the resource or
from the interface address whose network contains the VIP, IPv4 gets its broadcast and the
first free `<iface>:<n>` label, IPv6 is added without DAD.

A plan is also made ahead of a start (`IPaddrAgent._prepare`, issue #17), so that the start
itself is one netlink request. A label chosen then may have been taken since by another
group's address of this daemon (a takeover starts every group at once): `hold_label` and
`held_elsewhere` keep track, and such a plan is made again.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

from pyroute2.iproute.linux import IPRoute  # a submodule: daemon/lean.py
from pyroute2.netlink.exceptions import NetlinkError

from twinbeat.config.model import IPaddrResource
from twinbeat.resources.errors import AgentError

IFNAMSIZ_MAX = 15  # label length limit (ERANGE past it)
IFA_F_NODAD = 0x02  # <linux/if_addr.h>: no duplicate address detection

# The labels the addresses of this process's agents hold, per interface.
_HELD_LABELS: dict[str, set[str]] = {}


@dataclass(frozen=True)
class Ready:
    """A planned add: the request for `IPRoute.addr("add", ...)`, and the interface's name
    and netlink message (its MAC and flags, for the GARPs) as they were when planned."""

    request: dict[str, Any]
    ifname: str
    link: Any

    @property
    def label(self) -> str | None:
        return self.request.get("label")


def hold_label(ready: Ready) -> None:
    if ready.label:
        _HELD_LABELS.setdefault(ready.ifname, set()).add(ready.label)


def release_label(ready: Ready) -> None:
    if ready.label:
        _HELD_LABELS.get(ready.ifname, set()).discard(ready.label)


def held_elsewhere(ready: Ready) -> bool:
    """Whether an address of this process took `ready`'s label since it was planned."""
    return ready.label in _HELD_LABELS.get(ready.ifname, set())


class VipPlanner:
    """Plans the add of one resource's address (see the module docstring)."""

    def __init__(self, resource: IPaddrResource, family: int) -> None:
        self.resource = resource
        self.text = resource.text
        self.address = resource.address
        self._vip = ipaddress.ip_address(resource.address)
        self._family = family

    def plan(self, ipr: IPRoute) -> Ready:
        """The add, as things are now. One request for a named interface: its message has
        the index and the MAC the GARPs need (issue #17: each request is ~0.5 ms of a
        takeover); a covering address and a free label cost one more each."""
        want_if = self.resource.iface
        index: int | None = None
        link: Any = None
        if want_if:
            try:
                link = ipr.link("get", ifname=want_if)[0]
            except NetlinkError as exc:
                if exc.code != errno.ENODEV:
                    raise
                raise AgentError(f"{self.text}: no such interface {want_if}") from None
            index = link["index"]
        prefixlen = self.resource.prefixlen
        if prefixlen is None or index is None:
            cover = self._covering(ipr, index)
            if cover is None:
                where = f"on {want_if}" if want_if else "on any interface"
                raise AgentError(f"{self.text}: no address {where} has a network containing "
                                 f"{self.address}; give {self.resource.agent}::{self.address}"
                                 "/PREFIX/IFACE")
            if index is None:
                index = cover[0]
            if prefixlen is None:
                prefixlen = cover[1]
        if link is None:
            link = ipr.get_links(index)[0]
        ifname = want_if or link.get("ifname")
        return Ready(self._request(ipr, index, ifname, prefixlen), ifname, link)

    def is_vip(self, text: object) -> bool:
        """`text` (an address as netlink shows it) is the VIP, however it is spelled."""
        try:
            return ipaddress.ip_address(str(text)) == self._vip
        except ValueError:
            return False

    def _request(self, ipr: IPRoute, index: int, ifname: str, prefixlen: int) -> dict[str, Any]:
        """The netlink request adding the VIP: IPv4 with its broadcast and `eth0:N` label,
        IPv6 without DAD (ipaddr.py's module docstring)."""
        request: dict[str, Any] = {"index": index, "address": self.address,
                                   "prefixlen": prefixlen}
        if self._family == socket.AF_INET6:
            request["flags"] = IFA_F_NODAD
            return request
        net = ipaddress.IPv4Network(f"{self.address}/{prefixlen}", strict=False)
        broadcast = self.resource.broadcast or (
            str(net.broadcast_address) if prefixlen <= 30 else None)
        if broadcast:
            request["broadcast"] = broadcast
        label = _free_label(ipr, index, ifname)
        if label:
            request["label"] = label
        return request

    def _covering(self, ipr: IPRoute, index: int | None) -> tuple[int, int] | None:
        query: dict[str, Any] = {"family": self._family}
        if index is not None:
            query["index"] = index
        for msg in ipr.get_addr(**query):
            local = msg.get("address")
            if not local or self.is_vip(local):
                continue
            net = ipaddress.ip_network(f"{local}/{msg['prefixlen']}", strict=False)
            if self._vip in net:
                return msg["index"], msg["prefixlen"]
        return None


def _free_label(ipr: IPRoute, index: int, ifname: str) -> str | None:
    """heartbeat's `eth0:N`: the first N no address on the interface has (or no label)."""
    used = {msg.get("label") for msg in ipr.get_addr(family=2, index=index)}
    n = 0
    while f"{ifname}:{n}" in used:
        n += 1
    label = f"{ifname}:{n}"
    return label if len(label) <= IFNAMSIZ_MAX else None
