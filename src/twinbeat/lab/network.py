"""Network namespaces, veths, bridges, addresses and neighbours, through pyroute2 only.

Plain functions on namespace *names*; they never create anything in the host's own namespace
(a veth is made inside one namespace with its peer placed straight into the other), never add
a route (so no namespace gets a default route), and refuse any address outside 198.18.0.0/15
(RFC 2544 benchmarking space: never routed, never the host's), or for IPv6 outside the ULA
fd00::/8 and the documentation prefix 2001:db8::/32. IPv6 addresses are added without DAD
(the lab's addresses are its own), so they are usable at once. Who may call the mutating ones
on which namespace is `Harness`'s business: it only passes names it created.

Also here: `enter()` (setns for a child process) and `pids_in()` (who lives in a namespace).
The product never runs the `ip` command (DESIGN.md §8).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import ipaddress
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from pyroute2 import IPRoute, netns
from pyroute2.netlink.rtnl.ndmsg import states as nud_states

from twinbeat.lab.errors import LabError

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
LAB_NETWORK = ipaddress.ip_network("198.18.0.0/15")
LAB_NETWORKS6 = (ipaddress.ip_network("fd00::/8"), ipaddress.ip_network("2001:db8::/32"))
IFA_F_NODAD = 0x02
AF_INET, AF_INET6 = 2, 10
IFF_UP = 1

_libc = ctypes.CDLL(None, use_errno=True)
_setns = _libc.setns
_setns.argtypes = (ctypes.c_int, ctypes.c_int)
_setns.restype = ctypes.c_int


class Port(NamedTuple):
    """One end of a veth: the namespace, the interface name there, and optionally its address
    ("A.B.C.D/N"), the bridge (in the same namespace) it is a port of, and its interface
    index (only for the end `veth` creates first; None: the kernel's next free one)."""

    netns: str
    ifname: str
    address: str | None = None
    master: str | None = None
    ifindex: int | None = None


@dataclass(frozen=True, slots=True)
class Address:
    address: str
    prefixlen: int
    label: str | None
    broadcast: str | None

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefixlen}"


@dataclass(frozen=True, slots=True)
class LinkInfo:
    name: str
    index: int
    up: bool
    kind: str | None  # "veth", "bridge", ... (None for lo)
    master: int | None  # the bridge's index, for a bridge port
    mac: str | None
    addresses: tuple[Address, ...]


def lab_address(cidr: str) -> tuple[str, int]:
    """("A.B.C.D", N) from "A.B.C.D/N" (or an IPv6 one), or LabError when it is not inside
    198.18.0.0/15 (IPv6: fd00::/8 or 2001:db8::/32)."""
    try:
        interface = ipaddress.ip_interface(cidr)
    except ValueError:
        raise LabError(f"bad address {cidr!r} (want A.B.C.D/N)") from None
    if interface.version == 6:
        if "/" not in cidr or not any(interface.ip in net for net in LAB_NETWORKS6):
            raise LabError(f"address {cidr} refused: the lab's IPv6 is fd00::/8 or "
                           "2001:db8::/32 only")
    elif "/" not in cidr or interface.ip not in LAB_NETWORK:
        raise LabError(f"address {cidr} refused: the lab uses 198.18.0.0/15 only")
    return str(interface.ip), interface.network.prefixlen


def _add(route: Any, index: int, address: str, prefixlen: int) -> None:
    """Add an address: IPv4 with its broadcast address, as a machine's network configuration
    does (ifupdown, `ip addr add ... brd +`): heartbeat 3.0.6's bcast sends to the address
    the kernel reports (SIOCGIFBRDADDR), and without one it sends nothing at all; IPv6
    without duplicate address detection (it would hold the address back for a second)."""
    extra: dict[str, Any]
    if ":" in address:
        extra = {"flags": IFA_F_NODAD}
    else:
        network = ipaddress.ip_network(f"{address}/{prefixlen}", strict=False)
        extra = {"broadcast": str(network.broadcast_address)} if prefixlen < 31 else {}
    route.addr("add", index=index, address=address, prefixlen=prefixlen, **extra)


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


@contextlib.contextmanager
def ipr(name: str) -> Iterator[Any]:
    """An IPRoute inside an existing namespace (flags=0: never create one by accident)."""
    if not exists(name):
        raise LabError(f"network namespace {name} does not exist")
    with IPRoute(netns=name, flags=0) as route:
        yield route


def _index(route: Any, ifname: str) -> int:
    found = route.link_lookup(ifname=ifname)
    if not found:
        raise LabError(f"no interface {ifname}")
    return int(found[0])


# -- namespaces -----------------------------------------------------------------------------


def create(name: str) -> None:
    """A new namespace with `lo` up; LabError if one of that name exists already."""
    if exists(name):
        raise LabError(f"network namespace {name} already exists")
    netns.create(name)
    with ipr(name) as route:
        route.link("set", index=_index(route, "lo"), state="up")


def remove(name: str) -> bool:
    """Remove a namespace (its veths and addresses go with it); False if it was not there."""
    if not exists(name):
        return False
    netns.remove(name)
    return True


# -- links and addresses --------------------------------------------------------------------


def add_bridge(name: str, bridge: str) -> None:
    with ipr(name) as route:
        route.link("add", ifname=bridge, kind="bridge")
        route.link("set", index=_index(route, bridge), state="up")


def veth(a: Port, b: Port) -> None:
    """A cable: created inside a's namespace with its peer placed into b's; both ends up."""
    for port in (a, b):  # refuse before creating anything
        if port.address is not None:
            lab_address(port.address)
    with ipr(a.netns) as route:
        peer: dict[str, object] = {"ifname": b.ifname}
        if b.netns != a.netns:
            peer["net_ns_fd"] = b.netns
        chosen = {} if a.ifindex is None else {"index": a.ifindex}
        route.link("add", ifname=a.ifname, kind="veth", peer=peer, **chosen)
    for port in (a, b):
        with ipr(port.netns) as route:
            index = _index(route, port.ifname)
            if port.master is not None:
                route.link("set", index=index, master=_index(route, port.master))
            if port.address is not None:
                _add(route, index, *lab_address(port.address))
            route.link("set", index=index, state="up")


def macvlan(lower: Port, host: Port) -> None:
    """One more host on `lower`'s cable: a macvlan of it, moved into `host.netns` as
    `host.ifname` with `host.address`, and up. Its frames leave through `lower` (a veth end)
    to whatever is at the cable's other end; in bridge mode it cannot reach `lower`'s own
    namespace (a macvlan never talks to its parent)."""
    if host.address is None:
        raise LabError(f"macvlan {host.ifname}: an address is needed")
    address, prefixlen = lab_address(host.address)
    made = "tbmacvlan"  # a name free in lower's namespace (host.ifname may be taken there)
    with ipr(lower.netns) as route:
        route.link("add", ifname=made, kind="macvlan",
                   link=_index(route, lower.ifname), macvlan_mode="bridge")
        route.link("set", index=_index(route, made), net_ns_fd=host.netns)
    with ipr(host.netns) as route:
        index = _index(route, made)
        route.link("set", index=index, ifname=host.ifname)
        _add(route, index, address, prefixlen)
        route.link("set", index=index, state="up")


def set_link(name: str, ifname: str, up: bool) -> None:
    """Carrier off (`up=False`, a pulled cable: the peer end loses carrier too) or on."""
    with ipr(name) as route:
        route.link("set", index=_index(route, ifname), state="up" if up else "down")


def set_links(name: str, ifnames: Sequence[str], up: bool,
              first: Callable[[], object] = lambda: None) -> None:
    """`set_link` for several interfaces at once: one IPRoute (opening one in a namespace
    takes ~20 ms) and the indexes found before `first()` runs, so that what `first` starts
    (a power loss: the daemon killed) and the links going down happen within a millisecond."""
    with ipr(name) as route:
        indexes = [_index(route, ifname) for ifname in ifnames]
        first()
        for index in indexes:
            route.link("set", index=index, state="up" if up else "down")


def add_address(name: str, ifname: str, cidr: str) -> None:
    address, prefixlen = lab_address(cidr)
    with ipr(name) as route:
        _add(route, _index(route, ifname), address, prefixlen)


def del_address(name: str, ifname: str, cidr: str) -> None:
    address, prefixlen = lab_address(cidr)
    with ipr(name) as route:
        route.addr("del", index=_index(route, ifname), address=address, prefixlen=prefixlen)


def _address(msg: Any) -> Address:
    return Address(
        address=str(msg.get("IFA_LOCAL") or msg.get("IFA_ADDRESS")),
        prefixlen=int(msg["prefixlen"]),
        label=msg.get("IFA_LABEL"),
        broadcast=msg.get("IFA_BROADCAST"),
    )


def links(name: str) -> dict[str, LinkInfo]:
    """The interfaces of one namespace with their IPv4 addresses, by name."""
    with ipr(name) as route:
        raw = list(route.get_links())
        by_index: dict[int, list[Address]] = {}
        for msg in route.get_addr(family=AF_INET):
            by_index.setdefault(int(msg["index"]), []).append(_address(msg))
    result: dict[str, LinkInfo] = {}
    for link in raw:
        index = int(link["index"])
        master = link.get("IFLA_MASTER")
        result[str(link.get("ifname"))] = LinkInfo(
            name=str(link.get("ifname")),
            index=index,
            up=bool(link["flags"] & IFF_UP),
            kind=link.get(("IFLA_LINKINFO", "IFLA_INFO_KIND")),
            master=None if master is None else int(master),
            mac=link.get("IFLA_ADDRESS"),
            addresses=tuple(by_index.get(index, ())),
        )
    return result


def addresses(name: str, ifname: str) -> list[Address]:
    """IPv4 addresses on one interface (label and broadcast included)."""
    try:
        return list(links(name)[ifname].addresses)
    except KeyError:
        raise LabError(f"no interface {ifname} in {name}") from None


def addresses6(name: str, ifname: str) -> list[tuple[str, int]]:
    """IPv6 addresses on one interface, link-local ones left out: (address, prefixlen)."""
    with ipr(name) as route:
        return [(str(msg.get("IFA_ADDRESS")), int(msg["prefixlen"]))
                for msg in route.get_addr(family=AF_INET6, index=_index(route, ifname))
                if not ipaddress.ip_address(str(msg.get("IFA_ADDRESS"))).is_link_local]


def mac(name: str, ifname: str) -> str:
    with ipr(name) as route:
        return str(route.get_links(_index(route, ifname))[0].get("IFLA_ADDRESS"))


def default_routes(name: str) -> list[object]:
    """IPv4 and IPv6 default routes in the main table (a lab namespace must have none)."""
    found: list[object] = []
    with ipr(name) as route:
        for family in (AF_INET, AF_INET6):
            found.extend(e for e in route.get_routes(family=family, table=254) if e["dst_len"] == 0)
    return found


def neighbour(name: str, address: str) -> str | None:
    """The MAC this namespace's ARP (or IPv6 neighbour) cache has for `address` (gratuitous
    ARP, or an unsolicited neighbour advertisement, updates it)."""
    wanted = ipaddress.ip_address(address)
    family = AF_INET6 if wanted.version == 6 else AF_INET
    with ipr(name) as route:
        for entry in route.get_neighbours(family=family):
            if ipaddress.ip_address(str(entry.get("NDA_DST"))) == wanted:
                lladdr = entry.get("NDA_LLADDR")
                return None if lladdr is None else str(lladdr)
    return None


def set_neighbour(name: str, ifname: str, address: str, lladdr: str, state: str = "stale") -> None:
    """Put an ARP (or IPv6 neighbour) entry in place (e.g. a stale one for a GARP to correct)."""
    lab_address(f"{address}/{128 if ':' in address else 32}")
    with ipr(name) as route:
        route.neigh(
            "replace",
            dst=address,
            lladdr=lladdr,
            ifindex=_index(route, ifname),
            state=nud_states[state],
        )


def forget_neighbour(name: str, ifname: str, address: str) -> None:
    with ipr(name) as route, contextlib.suppress(Exception):  # not cached: nothing to forget
        route.neigh("del", dst=address, ifindex=_index(route, ifname))


# -- processes and namespaces ----------------------------------------------------------------


def open_ns(name: str) -> int:
    """An O_CLOEXEC fd on the namespace, for `enter()` in a child before exec."""
    try:
        return os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise LabError(f"network namespace {name} does not exist") from None


def enter(fd: int) -> None:
    """setns(2) into the network namespace behind `fd` (used as a subprocess preexec_fn).

    `ip netns exec` is not used: the product does its own namespace work (DESIGN.md §8). Only
    the network namespace changes; /sys and /etc/netns are not remounted, which nothing here
    needs (the daemon and its agents ask netlink, not /sys).
    """
    if _setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def ns_inode(name: str) -> int | None:
    try:
        return os.stat(NETNS_DIR / name).st_ino
    except FileNotFoundError:
        return None


def pids_in(name: str) -> list[int]:
    """PIDs of the processes whose network namespace is `name` (none when it is gone)."""
    inode = ns_inode(name)
    if inode is None:
        return []
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry.name}/ns/net").st_ino == inode:
                pids.append(int(entry.name))
        except OSError as exc:  # raced with the process's exit, or a kernel thread
            if exc.errno not in (errno.ENOENT, errno.ESRCH, errno.EACCES):
                raise
    return pids
