r"""haresources: resource groups -> `Group`s (reference §6.1).

Each logical line is `NODE RESOURCE...`; `#` starts a comment anywhere and a trailing `\`
joins the next line. The node (lower-cased) is the group's preferred node and must be a
`node` of ha.cf; the first resource is the group's key and must be unique. Resources:

- `IPaddr::ADDR[/PREFIX[/IFACE[/BROADCAST]]]` and `IPaddr2::...` (a third part that starts
  with a digit is the broadcast address, as heartbeat's IPaddr wrapper reads it);
- a token that starts with a digit and has no `::` is heartbeat's bare address form,
  `IPaddr::TOKEN`;
- anything else is `NAME[::ARG...]`, a script or service found by `agents.find_agent`.

Heartbeat leaves address checks to its shell scripts, at takeover time; twinbeat checks
them here, so a typo is found by `twinbeat check` rather than during a failover.
"""

from __future__ import annotations

import ipaddress
import re

from twinbeat.config.messages import Report, shown
from twinbeat.config.model import Group, IPaddrResource, Resource, ScriptResource
from twinbeat.config.source import Lines, strip_comment, words
from twinbeat.config.values import is_iface_name, parse_int, parse_ipv4

IPADDR_AGENTS = ("IPaddr", "IPaddr2")
# heartbeat's shell glob for a bare address, `[0-9]*.[0-9]*.[0-9]*.[0-9]*`, as a regex
_BARE_ADDRESS = re.compile(r"[0-9].*\.[0-9].*\.[0-9].*\.[0-9].*", re.DOTALL)


def logical_lines(lines: Lines) -> list[tuple[int, str]]:
    """Comments removed and `\\` continuations joined; each keeps its first line number."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, text in lines:
        body = strip_comment(text).rstrip()
        continued = body.endswith("\\")
        if continued:
            body = body[:-1]
        pending = (number, body) if pending is None else (pending[0], pending[1] + " " + body)
        if not continued:
            out.append(pending)
            pending = None
    if pending is not None:
        out.append(pending)
    return out


def parse_resource(text: str) -> Resource | str:
    """One resource token as a model object, or the reason it is wrong."""
    if "::" in text:
        name, *args = text.split("::")
    elif _BARE_ADDRESS.fullmatch(text):
        name, args = "IPaddr", [text]
    else:
        name, args = text, []
    if name in IPADDR_AGENTS:
        if len(args) != 1:
            return f"{name} takes one argument (ADDR[/PREFIX[/IFACE[/BROADCAST]]])"
        return _parse_ipaddr(name, args[0], text)
    if not name:
        return "empty resource name"
    if "/" in name or not name.isprintable():
        return f"{shown(name)} is not a resource script name (no '/' allowed)"
    if any(not a for a in args):
        return "empty argument (two '::' in a row, or '::' at the end)"
    if any(not a.isprintable() for a in args):
        return "argument with control characters"
    return ScriptResource(name, tuple(args), text)


def _parse_ipaddr(agent: str, spec: str, text: str) -> IPaddrResource | str:
    parts = spec.split("/")
    if len(parts) > 4:
        return "too many '/' parts (ADDR[/PREFIX[/IFACE[/BROADCAST]]])"
    address = parse_ipv4(parts[0])
    if address is None:
        return f"bad IPv4 address {shown(parts[0])}"
    if address.is_unspecified or address.is_loopback or address.is_multicast or (
        parts[0] == "255.255.255.255"
    ):
        return f"{address} cannot be a service address"
    prefixlen: int | None = None
    iface: str | None = None
    broadcast: str | None = None
    if len(parts) > 1:
        prefixlen = _prefixlen(parts[1])
        if prefixlen is None:
            return f"bad prefix length {shown(parts[1])} (1-32, or a netmask like 255.255.255.0)"
    rest = parts[2:]
    if rest and rest[0][:1].isdigit():
        # heartbeat's IPaddr: a third part starting with a digit is the broadcast address
        broadcast, rest = rest[0], rest[1:]
        if rest:
            return "too many '/' parts after the broadcast address"
    elif rest:
        iface, rest = rest[0], rest[1:]
        if not is_iface_name(iface.split(":", 1)[0]):
            return f"bad interface name {shown(iface)}"
        if rest:
            broadcast = rest[0]
    if broadcast is not None and parse_ipv4(broadcast) is None:
        return f"bad broadcast address {shown(broadcast)}"
    return IPaddrResource(agent, str(address), prefixlen, iface, broadcast, text)


def _prefixlen(token: str) -> int | None:
    bits = parse_int(token, 1, 32)
    if bits is not None:
        return bits
    if parse_ipv4(token) is None:
        return None
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{token}").prefixlen or None
    except ValueError:  # not a contiguous netmask
        return None


def parse_haresources(
    lines: Lines, path: str, report: Report, nodes: tuple[str, ...]
) -> tuple[Group, ...]:
    """The groups in file order; each problem is reported and its group left out.

    `nodes` are ha.cf's; when it has none (already an error there) node names are not
    checked, to avoid one error per haresources line for the same cause.
    """
    groups: list[Group] = []
    keys: dict[str, int] = {}
    addresses: dict[str, int] = {}
    for number, text in logical_lines(lines):
        tokens = words(text)
        if not tokens:
            continue
        primary = tokens[0].lower()
        ok = True
        if nodes and primary not in nodes:
            report.error(path, number, f"bad nodename {shown(primary)} (not a `node` in "
                                       "ha.cf)")
            ok = False
        if len(tokens) < 2:
            report.error(path, number, f"{shown(primary)}: a group needs at least one resource")
            continue
        resources: list[Resource] = []
        for token in tokens[1:]:
            parsed = parse_resource(token)
            if isinstance(parsed, str):
                report.error(path, number, f"{shown(token)}: {parsed}")
                ok = False
                continue
            if isinstance(parsed, IPaddrResource):
                if parsed.address in addresses:
                    report.error(path, number, f"{shown(token)}: address {parsed.address} "
                                               f"already used (line {addresses[parsed.address]})")
                    ok = False
                else:
                    addresses[parsed.address] = number
            resources.append(parsed)
        key = tokens[1]
        if key in keys:
            report.error(path, number, f"{shown(key)}: already the key of the group at line "
                                       f"{keys[key]} (the first resource must be unique)")
            ok = False
        else:
            keys[key] = number
        if ok:
            groups.append(Group(key, primary, tuple(resources), path, number))
    return tuple(groups)
