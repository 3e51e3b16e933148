"""IPv6 service addresses in haresources: `IPaddr2::2001:db8::10/64/eth0` and heartbeat's
`IPv6addr::...`, as an `IPaddrResource` for twinbeat's own netlink agent (resources/ipaddr.py).

Accepted forms (docs/resources.md, "IPv6 addresses"):

- `IPaddr::ADDR[/PREFIX[/IFACE]]`, `IPaddr2::...` and `IPv6addr::...` with an IPv6 ADDR, in any
  RFC 4291 spelling (`2001:db8::10`, `2001:db8:0:0:0:0:0:10`); it is kept in its canonical
  (compressed) form, so two spellings of one address are one address.
- PREFIX is a prefix length, 1-128 (IPv6 has no netmasks to write); IFACE a plain interface
  name (IPv6 addresses have no `eth0:0` labels); there is no broadcast part.

Why the `::` is not a separator here: heartbeat's ResourceManager split a resource on every
`::` (`resource2arg`: `sed 's%::% %g'`), so `IPv6addr::2001:db8::10/64/eth0` reached its
IPv6addr wrapper as two arguments, which it refused (`$# != 2`); under heartbeat only the
uncompressed spelling worked. twinbeat reads everything after the first `::` as the one
argument of the three address agents, so both spellings work and no heartbeat file changes
meaning (the split form was always an error there).

Refused, each with its reason: the unspecified, loopback and multicast addresses, a
link-local one (it exists once per interface: not a service address), an IPv4-mapped one
(use the IPv4 address), and an IPv4 address given to `IPv6addr`.
"""

from __future__ import annotations

import ipaddress

from twinbeat.config.messages import shown
from twinbeat.config.model import IPaddrResource
from twinbeat.config.values import is_iface_name, parse_int, parse_ipv4

USAGE = "ADDR[/PREFIX[/IFACE]]: an IPv6 address has no broadcast part"


def is_ipv6_literal(token: str) -> bool:
    """True for a token that is an IPv6 address (without a `%scope`)."""
    if ":" not in token or "%" in token:
        return False
    try:
        ipaddress.IPv6Address(token)
    except ValueError:
        return False
    return True


def parse_ipv6(agent: str, parts: list[str], text: str) -> IPaddrResource | str:
    """`parts` (the argument split on `/`) as an IPv6 address resource, or the reason not."""
    if agent != "IPv6addr" and parse_ipv4(parts[0].split("::", 1)[0]) is not None:
        return f"{agent} takes one argument (ADDR[/PREFIX[/IFACE[/BROADCAST]]])"
    if len(parts) > 3:
        return f"too many '/' parts ({USAGE})"
    address = _address(parts[0])
    if isinstance(address, str):
        return address
    prefixlen: int | None = None
    if len(parts) > 1:
        prefixlen = parse_int(parts[1], 1, 128)
        if prefixlen is None:
            return f"bad prefix length {shown(parts[1])} (1-128)"
    iface = parts[2] if len(parts) > 2 else None
    if iface is not None and not is_iface_name(iface):
        return f"bad interface name {shown(iface)} (IPv6 addresses have no :N labels)"
    return IPaddrResource(agent, str(address), prefixlen, iface, None, text)


def _address(token: str) -> ipaddress.IPv6Address | str:
    try:
        address = ipaddress.IPv6Address(token)
    except ValueError:
        hint = "" if ":" in token else " (IPv6addr takes an IPv6 address)"
        return f"bad IPv6 address {shown(token)}{hint}"
    return _service_problem(token, address) or address


def _service_problem(token: str, address: ipaddress.IPv6Address) -> str | None:
    """Why `address` cannot be a service address, or None."""
    if address.scope_id:
        return f"{shown(token)}: no %scope in a service address"
    if address.ipv4_mapped is not None:
        return f"{shown(token)} is IPv4-mapped: write the IPv4 address {address.ipv4_mapped}"
    if address.is_unspecified or address.is_loopback or address.is_multicast:
        return f"{address} cannot be a service address"
    if address.is_link_local:
        return f"{address} is link-local (one per interface): not a service address"
    return None
