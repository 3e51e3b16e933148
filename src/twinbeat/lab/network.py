"""The lab's network, through pyroute2 only: namespaces, the LAN bridge, veths, addresses.

Layout (all inside namespaces the lab creates; nothing in the host's root namespace):

    <name>-prime   eth0 198.18.1.1/24 ──┐            eth1 198.18.2.1/24 ── veth ──┐
    <name>-calc    eth0 198.18.1.2/24 ──┼─ br0 in <name>-lan                      │
    <name>-client  eth0 198.18.1.10/24 ─┘            eth1 198.18.2.2/24 ──────────┘

No namespace gets a default route: only the connected /24 routes the kernel adds.
Also here: `enter()` (setns for a child process) and `pids_in()` (who lives in a namespace).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from pyroute2 import IPRoute, netns

from twinbeat.lab import plan as lp

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)
_setns = _libc.setns
_setns.argtypes = (ctypes.c_int, ctypes.c_int)
_setns.restype = ctypes.c_int


class LabNetworkError(RuntimeError):
    """The lab network could not be built or inspected."""


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


@contextlib.contextmanager
def ipr(name: str) -> Iterator[IPRoute]:
    """An IPRoute inside an existing namespace (flags=0: never create one by accident)."""
    if not exists(name):
        raise LabNetworkError(f"network namespace {name} does not exist")
    with IPRoute(netns=name, flags=0) as route:
        yield route


def _index(route: IPRoute, ifname: str) -> int:
    found = route.link_lookup(ifname=ifname)
    if not found:
        raise LabNetworkError(f"no interface {ifname}")
    return found[0]


def build(lab: lp.Plan) -> None:
    """Create the namespaces, bridge, veths and addresses. Fails if any namespace exists."""
    for role in lp.ROLES:
        if exists(lab.netns(role)):
            raise LabNetworkError(
                f"namespace {lab.netns(role)} already exists "
                f"(run `twinbeat lab down --name {lab.name}` first)"
            )
    for role in lp.ROLES:
        netns.create(lab.netns(role))
    for role in lp.ROLES:
        with ipr(lab.netns(role)) as route:
            route.link("set", index=_index(route, "lo"), state="up")

    lan = lab.netns("lan")
    with ipr(lan) as route:
        route.link("add", ifname=lp.BRIDGE, kind="bridge")
        bridge = _index(route, lp.BRIDGE)
        for role, _address in lp.LAN_ADDR.items():
            # The bridge port keeps the role's name in the lan namespace; the other end is
            # created directly in the node's namespace as eth0.
            route.link(
                "add",
                ifname=role,
                kind="veth",
                peer={"ifname": lp.LAN_IFACE, "net_ns_fd": lab.netns(role)},
            )
            port = _index(route, role)
            route.link("set", index=port, master=bridge)
            route.link("set", index=port, state="up")
        route.link("set", index=bridge, state="up")
    for role, address in lp.LAN_ADDR.items():
        _configure(lab.netns(role), lp.LAN_IFACE, address, lp.LAN_PREFIX)

    prime, calc = lp.NODES
    with ipr(lab.netns(prime)) as route:
        route.link(
            "add",
            ifname=lp.HB_IFACE,
            kind="veth",
            peer={"ifname": lp.HB_IFACE, "net_ns_fd": lab.netns(calc)},
        )
    for node in lp.NODES:
        _configure(lab.netns(node), lp.HB_IFACE, lp.HB_ADDR[node], lp.HB_PREFIX)


def _configure(name: str, ifname: str, address: str, prefixlen: int) -> None:
    with ipr(name) as route:
        index = _index(route, ifname)
        route.addr("add", index=index, address=address, prefixlen=prefixlen)
        route.link("set", index=index, state="up")


def set_link(lab: lp.Plan, role: str, ifname: str, up: bool) -> None:
    """Cable pulled (`up=False`) or plugged back in, seen from inside `role`'s namespace."""
    with ipr(lab.netns(role)) as route:
        route.link("set", index=_index(route, ifname), state="up" if up else "down")


def links(lab: lp.Plan, role: str) -> dict[str, dict[str, object]]:
    """Interfaces of one namespace: name -> {up, addresses, kind}."""
    result: dict[str, dict[str, object]] = {}
    with ipr(lab.netns(role)) as route:
        names = {}
        for link in route.get_links():
            name = link.get("ifname")
            names[link["index"]] = name
            info = link.get(("IFLA_LINKINFO", "IFLA_INFO_KIND")) if hasattr(link, "get") else None
            result[name] = {
                "up": bool(link["flags"] & 1),
                "addresses": [],
                "kind": info,
                "master": link.get("IFLA_MASTER"),
            }
        for addr in route.get_addr(family=2):
            name = names.get(addr["index"])
            if name in result:
                result[name]["addresses"].append(  # type: ignore[union-attr]
                    f"{addr.get('IFA_ADDRESS')}/{addr['prefixlen']}"
                )
    return result


def default_routes(lab: lp.Plan, role: str) -> list[object]:
    """IPv4 and IPv6 default routes in `role`'s namespace (the lab must never have one)."""
    found: list[object] = []
    with ipr(lab.netns(role)) as route:
        for family in (2, 10):
            for entry in route.get_routes(family=family, table=254):
                if entry["dst_len"] == 0:
                    found.append(entry)
    return found


def teardown(lab: lp.Plan) -> list[str]:
    """Remove every lab namespace that exists (their veths and addresses go with them)."""
    removed = []
    for role in reversed(lp.ROLES):
        name = lab.netns(role)
        if exists(name):
            netns.remove(name)
            removed.append(name)
    return removed


# -- processes and namespaces ----------------------------------------------------------------


def open_ns(name: str) -> int:
    """An O_CLOEXEC fd on the namespace, for `enter()` in a child before exec."""
    try:
        return os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise LabNetworkError(f"network namespace {name} does not exist") from None


def enter(fd: int) -> None:
    """setns(2) into the network namespace behind `fd` (used as a subprocess preexec_fn).

    `ip netns exec` is not used: the product does its own namespace work (DESIGN.md §8). Only
    the network namespace changes; /sys and /etc/netns are not remounted, which nothing here
    needs.
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
