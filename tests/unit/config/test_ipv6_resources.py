"""IPv6 service addresses in haresources (config/ipv6.py): the accepted forms, and every
refusal with its reason at the haresources line."""

from __future__ import annotations

import pytest
from config_helpers import lines_of, texts

from twinbeat.config.haresources import parse_haresources, parse_resource
from twinbeat.config.messages import Report
from twinbeat.config.model import IPaddrResource

PATH = "/etc/ha.d/haresources"


@pytest.mark.parametrize(("text", "agent", "address", "prefixlen", "iface"), [
    ("IPaddr2::2001:db8::10/64/eth0", "IPaddr2", "2001:db8::10", 64, "eth0"),
    ("IPaddr::2001:db8::10/64/eth0", "IPaddr", "2001:db8::10", 64, "eth0"),
    ("IPaddr2::2001:db8::10", "IPaddr2", "2001:db8::10", None, None),
    ("IPaddr2::fd00:1::10/48", "IPaddr2", "fd00:1::10", 48, None),
    # heartbeat's IPv6addr wrapper, in both spellings (only the second worked in heartbeat)
    ("IPv6addr::2001:db8::10/64/eth0", "IPv6addr", "2001:db8::10", 64, "eth0"),
    ("IPv6addr::2001:DB8:0:0:0:0:0:10/64/eth0", "IPv6addr", "2001:db8::10", 64, "eth0"),
    ("IPv6addr::2001:db8::10", "IPv6addr", "2001:db8::10", None, None),
    ("IPaddr2::2001:db8::10/128/bond0.100", "IPaddr2", "2001:db8::10", 128, "bond0.100"),
])
def test_accepted_forms(text: str, agent: str, address: str, prefixlen: int | None,
                        iface: str | None) -> None:
    resource = parse_resource(text)
    assert resource == IPaddrResource(agent, address, prefixlen, iface, None, text)
    assert isinstance(resource, IPaddrResource) and resource.ipv6


def test_an_ipv4_resource_is_not_ipv6() -> None:
    resource = parse_resource("IPaddr2::198.18.1.100/24/eth0")
    assert isinstance(resource, IPaddrResource) and not resource.ipv6


@pytest.mark.parametrize(("text", "problem"), [
    ("IPaddr2::2001:db8::10/64/eth0/2001:db8::ff",
     "too many '/' parts (ADDR[/PREFIX[/IFACE]]: an IPv6 address has no broadcast part)"),
    ("IPaddr2::2001:db8::10/129", "bad prefix length 129 (1-128)"),
    ("IPaddr2::2001:db8::10/ffff:ffff::", "bad prefix length ffff:ffff:: (1-128)"),
    ("IPaddr2::2001:db8::10/64/eth0:1",
     "bad interface name eth0:1 (IPv6 addresses have no :N labels)"),
    ("IPaddr2::2001:db8::zz/64", "bad IPv6 address 2001:db8::zz"),
    ("IPaddr2::2001:db8:::10", "bad IPv6 address 2001:db8:::10"),
    ("IPaddr2::::/64", ":: cannot be a service address"),
    ("IPaddr2::::1", "::1 cannot be a service address"),
    ("IPaddr2::ff02::1", "ff02::1 cannot be a service address"),
    ("IPaddr2::fe80::10/64/eth0",
     "fe80::10 is link-local (one per interface): not a service address"),
    ("IPaddr2::fe80::10%eth0", "fe80::10%eth0: no %scope in a service address"),
    ("IPaddr2::::ffff:198.18.1.1",
     "::ffff:198.18.1.1 is IPv4-mapped: write the IPv4 address 198.18.1.1"),
    ("IPv6addr::198.18.1.100/24",
     "bad IPv6 address 198.18.1.100 (IPv6addr takes an IPv6 address)"),
    ("IPv6addr::", "IPv6addr takes one argument (IPV6ADDR[/PREFIX[/IFACE]])"),
    ("IPaddr::1.2.3.4::x", "IPaddr takes one argument (ADDR[/PREFIX[/IFACE[/BROADCAST]]])"),
    # heartbeat read a bare address as IPaddr only when it was IPv4
    ("2001:db8::10/64/eth0", "an IPv6 address needs its agent: IPaddr2::2001:db8::10/64/eth0"),
    ("2001:db8:0:0:0:0:0:10", "an IPv6 address needs its agent: IPaddr2::2001:db8:0:0:0:0:0:10"),
])
def test_refused_forms(text: str, problem: str) -> None:
    assert parse_resource(text) == problem


def test_two_spellings_of_one_address_are_the_same_address() -> None:
    lines, _ = lines_of("node1 IPaddr2::2001:db8::10/64/eth0\n"
                        "node2 IPv6addr::2001:db8:0:0:0:0:0:10/64/eth0\n", PATH)
    report = Report()
    groups = parse_haresources(lines, PATH, report, ("node1", "node2"))
    assert texts(report.errors) == [
        f"{PATH}:2: IPv6addr::2001:db8:0:0:0:0:0:10/64/eth0: address 2001:db8::10 already "
        "used (line 1)"]
    assert [g.key for g in groups] == ["IPaddr2::2001:db8::10/64/eth0"]


def test_ipv4_and_ipv6_addresses_in_one_group() -> None:
    lines, _ = lines_of("node1 IPaddr2::198.18.1.100/24/eth0 IPaddr2::2001:db8::10/64/eth0 "
                        "apache2\n", PATH)
    report = Report()
    groups = parse_haresources(lines, PATH, report, ("node1", "node2"))
    assert report.errors == []
    assert [type(r).__name__ for r in groups[0].resources] == [
        "IPaddrResource", "IPaddrResource", "ScriptResource"]
