"""ha.cf's heartbeat media: `bcast`, `udp`, `ucast`, `mcast`, `serial` -> numbered `Link`s.

Owns the media directives' arguments (reference §5.1-5.4), link names (unique, because a
peer's links are keyed by name) and link ids (UDP links 0, 1, 2... in ha.cf order, serial
links 0x80 + n), which depend only on ha.cf so that both nodes agree on them.

Departures from heartbeat, all lenient: several `ucast` lines on one interface are one link
(see model.Ucast); a second medium on an interface already used is kept as `IFACE:KIND`.
"""

from __future__ import annotations

from twinbeat.config.hacf_state import HaCfState
from twinbeat.config.messages import shown
from twinbeat.config.model import (
    SERIAL_LINK_ID_BASE,
    Bcast,
    Link,
    Mcast,
    Medium,
    Serial,
    Ucast,
)
from twinbeat.config.values import is_iface_name, parse_int, parse_ipv4

MAX_UDP_LINKS = SERIAL_LINK_ID_BASE
MAX_SERIAL_LINKS = 0x100 - SERIAL_LINK_ID_BASE


def add_medium(state: HaCfState, name: str, medium: Medium, line: int) -> None:
    """Add a link; link names must be unique because peers' links are keyed by name.

    heartbeat names a link after its interface even when two media share it; twinbeat
    keeps that name for the first and calls the next one `IFACE:KIND` (e.g.
    `eth0:mcast`), so such a file still works.
    """
    kind = type(medium).__name__.lower()
    for other_name, other, other_line in state.media:
        if other == medium:
            state.warn(line, f"{kind} {shown(name)}: same as line {other_line}; "
                             "duplicate ignored")
            return
        if other_name == name and type(other) is type(medium):
            state.error(line, f"{kind} {shown(name)}: a second {kind} link on the same "
                              f"interface (line {other_line}); use one")
            return
    if any(other_name == name for other_name, _, _ in state.media):
        alias = f"{name}:{kind}"
        state.warn(line, f"{kind} {shown(name)}: another medium already uses this "
                         f"interface; this link is called {shown(alias)} (both fail "
                         "together with the NIC, so they are not redundant)")
        name = alias
    state.media.append((name, medium, line))


def d_bcast(state: HaCfState, args: list[str], line: int) -> None:
    if not args:
        state.error(line, "bcast: needs at least one interface")
    for iface in args:
        if is_iface_name(iface):
            add_medium(state, iface, Bcast(iface), line)
        else:
            state.error(line, f"bcast {shown(iface)}: not an interface name")


def d_udp(state: HaCfState, args: list[str], line: int) -> None:
    state.warn(line, "udp: old name of bcast; use bcast")
    d_bcast(state, args, line)


def _ucast_peer(state: HaCfState, iface: str, peer: str, line: int) -> str | None:
    """The peer's IPv4 address in canonical form, or None after reporting why not."""
    address = parse_ipv4(peer)
    if address is None:
        state.error(line, f"ucast {shown(iface)} {shown(peer)}: peer must be an IPv4 "
                          "address (twinbeat does not resolve host names)")
        return None
    if address.is_multicast or address.is_unspecified or peer == "255.255.255.255":
        state.error(line, f"ucast {shown(iface)} {peer}: not a unicast address")
        return None
    return str(address)


def d_ucast(state: HaCfState, args: list[str], line: int) -> None:
    if len(args) != 2:
        state.error(line, "ucast: needs an interface and a peer address (ucast IFACE PEER)")
        return
    iface, peer = args
    iface_ok = is_iface_name(iface)
    if not iface_ok:
        state.error(line, f"ucast {shown(iface)}: not an interface name")
    address = _ucast_peer(state, iface, peer, line)
    if not iface_ok or address is None:
        return
    peers = state.ucast_peers.get(iface)
    if peers is None:
        # The link's final peers are filled in by `links()`, once every line is read.
        state.ucast_peers[iface] = [address]
        add_medium(state, iface, Ucast(iface, (address,)), line)
    elif address in peers:
        state.warn(line, f"ucast {iface} {peer}: duplicate line ignored")
    else:
        peers.append(address)


def d_mcast(state: HaCfState, args: list[str], line: int) -> None:
    if len(args) != 5:
        state.error(line, "mcast: needs five values (mcast IFACE GROUP PORT TTL LOOP)")
        return
    iface, group, port_t, ttl_t, loop_t = args
    problems = []
    if not is_iface_name(iface):
        problems.append(f"{shown(iface)} is not an interface name")
    address = parse_ipv4(group)
    if address is None or not address.is_multicast:
        problems.append(f"group {shown(group)} is not in 224.0.0.0/4")
    port = parse_int(port_t, 1, 65535)
    if port is None:
        problems.append(f"port {shown(port_t)} is not 1-65535")
    ttl = parse_int(ttl_t, 0, 4)
    if ttl is None:
        problems.append(f"bad ttl {shown(ttl_t)} (0-4)")
    loop = parse_int(loop_t, 0, 1)
    if loop is None:
        problems.append(f"loop {shown(loop_t)} must be 0 or 1")
    if address is None or port is None or ttl is None or problems:
        state.error(line, "mcast: " + "; ".join(problems))
        return
    add_medium(state, iface, Mcast(iface, str(address), port, ttl, bool(loop)), line)


def d_serial(state: HaCfState, args: list[str], line: int) -> None:
    if not args:
        state.error(line, "serial: needs at least one device path")
    for device in args:
        if device.startswith("/") and device.isprintable() and len(device) > 1:
            add_medium(state, device, Serial(device), line)
        else:
            state.error(line, f"serial {shown(device)}: device must be an absolute path")


def links(state: HaCfState) -> tuple[Link, ...]:
    """Every medium as a numbered `Link`: UDP ones from 0, serial ones from 0x80."""
    udp = [(n, m, line) for n, m, line in state.media if not isinstance(m, Serial)]
    serial = [(n, m, line) for n, m, line in state.media if isinstance(m, Serial)]
    if len(udp) > MAX_UDP_LINKS:
        state.error(udp[MAX_UDP_LINKS][2], f"more than {MAX_UDP_LINKS} UDP links")
    if len(serial) > MAX_SERIAL_LINKS:
        state.error(serial[MAX_SERIAL_LINKS][2], f"more than {MAX_SERIAL_LINKS} serial links")
    numbered = [Link(name, index, _complete(state, medium), line)
                for index, (name, medium, line) in enumerate(udp[:MAX_UDP_LINKS])]
    numbered += [Link(name, SERIAL_LINK_ID_BASE + index, medium, line)
                 for index, (name, medium, line) in enumerate(serial[:MAX_SERIAL_LINKS])]
    return tuple(numbered)


def _complete(state: HaCfState, medium: Medium) -> Medium:
    """A ucast medium with every peer ha.cf gave for its interface, in ha.cf order."""
    match medium:
        case Ucast(iface=iface):
            return Ucast(iface, tuple(state.ucast_peers[iface]))
        case Bcast() | Mcast() | Serial():
            return medium
