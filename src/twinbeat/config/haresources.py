r"""haresources: resource groups -> `Group`s (reference §6.1).

Each logical line is `NODE RESOURCE...`; `#` starts a comment anywhere and a trailing `\`
joins the next line. The node (lower-cased) is the group's preferred node and must be a
`node` of ha.cf; the first resource is the group's key and must be unique. Resources:

- `IPaddr::ADDR[/PREFIX[/IFACE[/BROADCAST]]]` and `IPaddr2::...` (a third part that starts
  with a digit is the broadcast address, as heartbeat's IPaddr wrapper reads it);
- an IPv6 address in the same forms, `IPaddr2::2001:db8::10/64/eth0`, and heartbeat's
  `IPv6addr::ADDR[/PREFIX[/IFACE]]` (ipv6.py): for these three names everything after the
  first `::` is the one argument, so the address may contain `::` itself;
- a token that starts with a digit and has no `::` is heartbeat's bare address form,
  `IPaddr::TOKEN`;
- `ocf:PROVIDER:AGENT[::NAME=VALUE...]` is an OCF resource agent with named parameters
  (ocf.py);
- anything else is `NAME[::ARG...]`, a script or service found by `agents.find_agent`
  (heartbeat's classic names such as `Filesystem::DEV::DIR` map onto OCF agents there).

Heartbeat leaves address checks to its shell scripts, at takeover time; twinbeat checks
them here, so a typo is found by `twinbeat check` rather than during a failover. Likewise
the wire's limit: a frame carries at most 64 groups (limits.py), so a 65th is refused here
rather than at the first heartbeat.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from twinbeat.config.ipv6 import is_ipv6_literal, parse_ipv6
from twinbeat.config.limits import MAX_GROUPS
from twinbeat.config.messages import Report, shown
from twinbeat.config.model import Group, IPaddrResource, Resource, ScriptResource
from twinbeat.config.ocf import is_ocf, parse_ocf
from twinbeat.config.source import Lines, strip_comment, words
from twinbeat.config.values import is_iface_name, parse_int, parse_ipv4

# The address agents (twinbeat's own netlink agent) and the argument each takes.
ADDRESS_AGENTS = {
    "IPaddr": "ADDR[/PREFIX[/IFACE[/BROADCAST]]]",
    "IPaddr2": "ADDR[/PREFIX[/IFACE[/BROADCAST]]]",
    "IPv6addr": "IPV6ADDR[/PREFIX[/IFACE]]",
}
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
    if is_ocf(text):
        return parse_ocf(text)
    agent, _, argument = text.partition("::")
    if agent in ADDRESS_AGENTS:
        # heartbeat split on every `::`, so its IPaddr never took an IPv6 address with
        # `::` in it; here the whole rest is the address argument (docs/resources.md).
        if not argument:
            return f"{agent} takes one argument ({ADDRESS_AGENTS[agent]})"
        return _address_resource(agent, argument, text)
    if is_ipv6_literal(text.split("/", 1)[0]):
        return f"an IPv6 address needs its agent: IPaddr2::{text}"
    if "::" in text:
        name, *args = text.split("::")
    elif _BARE_ADDRESS.fullmatch(text):
        return _address_resource("IPaddr", text, text)
    else:
        name, args = text, []
    problem = _script_problem(name, args)
    return ScriptResource(name, tuple(args), text) if problem is None else problem


def _script_problem(name: str, args: list[str]) -> str | None:
    if not name:
        return "empty resource name"
    if "/" in name or not name.isprintable():
        return f"{shown(name)} is not a resource script name (no '/' allowed)"
    if any(not a for a in args):
        return "empty argument (two '::' in a row, or '::' at the end)"
    if any(not a.isprintable() for a in args):
        return "argument with control characters"
    return None


def _address_resource(agent: str, spec: str, text: str) -> IPaddrResource | str:
    parts = spec.split("/")
    if agent == "IPv6addr" or ":" in parts[0]:
        return parse_ipv6(agent, parts, text)
    return _parse_ipaddr(agent, parts, text)


def _parse_ipaddr(agent: str, parts: list[str], text: str) -> IPaddrResource | str:
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
    if len(parts) > 1:
        prefixlen = _prefixlen(parts[1])
        if prefixlen is None:
            return f"bad prefix length {shown(parts[1])} (1-32, or a netmask like 255.255.255.0)"
    placed = _iface_and_broadcast(parts[2:])
    if isinstance(placed, str):
        return placed
    return IPaddrResource(agent, str(address), prefixlen, *placed, text)


def _iface_and_broadcast(rest: list[str]) -> tuple[str | None, str | None] | str:
    """(iface, broadcast) from the parts after the prefix, or the reason they are wrong."""
    iface: str | None = None
    broadcast: str | None = None
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
    return iface, broadcast


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


@dataclass(slots=True)
class _Reading:
    """The file being read, and what its earlier lines claimed (keys, addresses)."""

    path: str
    report: Report
    nodes: tuple[str, ...]
    keys: dict[str, int] = field(default_factory=dict)  # group key -> line
    addresses: dict[str, int] = field(default_factory=dict)  # service address -> line
    count: int = 0  # group lines so far, valid or not

    def error(self, line: int, text: str) -> None:
        self.report.error(self.path, line, text)


def parse_haresources(
    lines: Lines, path: str, report: Report, nodes: tuple[str, ...]
) -> tuple[Group, ...]:
    """The groups in file order; each problem is reported and its group left out.

    `nodes` are ha.cf's; when it has none (already an error there) node names are not
    checked, to avoid one error per haresources line for the same cause.
    """
    groups: list[Group] = []
    reading = _Reading(path, report, nodes)
    for number, text in logical_lines(lines):
        tokens = words(text)
        if not tokens:
            continue
        reading.count += 1
        if reading.count == MAX_GROUPS + 1:
            reading.error(number, f"too many groups: twinbeat carries at most {MAX_GROUPS} "
                                  "(the wire's limit); put resources that always move "
                                  "together in one group")
        group = _group(reading, tokens, number)
        if group is not None:
            groups.append(group)
    return tuple(groups)


def _group(reading: _Reading, tokens: list[str], number: int) -> Group | None:
    """One haresources line as a Group, or None after reporting what is wrong with it."""
    primary = tokens[0].lower()
    ok = True
    if reading.nodes and primary not in reading.nodes:
        reading.error(number, f"bad nodename {shown(primary)} (not a `node` in ha.cf)")
        ok = False
    if len(tokens) < 2:
        reading.error(number, f"{shown(primary)}: a group needs at least one resource")
        return None
    resources: list[Resource] = []
    for token in tokens[1:]:
        resource = _resource(reading, token, number)
        if resource is None:
            ok = False
        else:
            resources.append(resource)
    key = tokens[1]
    if key in reading.keys:
        reading.error(number, f"{shown(key)}: already the key of the group at line "
                              f"{reading.keys[key]} (the first resource must be unique)")
        ok = False
    else:
        reading.keys[key] = number
    return Group(key, primary, tuple(resources), reading.path, number) if ok else None


def _resource(reading: _Reading, token: str, number: int) -> Resource | None:
    """One resource of a group line, or None after reporting it (a bad or reused address)."""
    parsed = parse_resource(token)
    if isinstance(parsed, str):
        reading.error(number, f"{shown(token)}: {parsed}")
        return None
    if isinstance(parsed, IPaddrResource):
        if parsed.address in reading.addresses:
            reading.error(number, f"{shown(token)}: address {parsed.address} already "
                                  f"used (line {reading.addresses[parsed.address]})")
            return None
        reading.addresses[parsed.address] = number
    return parsed
