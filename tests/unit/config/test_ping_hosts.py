"""ha.cf ping hosts (issue #11, item 11): IPv4 and IPv6 both work, so both are checked.

The pinger pings IPv6 hosts over ICMPv6 (docs/ping.md), so `ping` takes IPv6 addresses and
heartbeat's `ping6` is a ping node again instead of an ignored directive. What looks like
an address must be one: `198.18.1.300` or `fe80::1` without its interface would otherwise
be "resolved" at run time, fail for ever, and count as a dead ping node.
"""

from __future__ import annotations

import pytest
from config_helpers import lines_of, texts

from twinbeat.config.hacf import parse_hacf

PATH = "/etc/ha.d/ha.cf"
BASE = "node prime calc\nbcast eth0\n"


def parse(extra: str) -> tuple[object, list[str], list[str]]:
    lines, report = lines_of(BASE + extra, PATH)
    hacf = parse_hacf(lines, PATH, report)
    return hacf, texts(report.errors), texts(report.warnings)


@pytest.mark.parametrize("host", ["198.18.1.254", "2001:db8::1", "::1", "fe80::1%eth0",
                                  "pingnode.example", "router-1"])
def test_good_hosts(host: str) -> None:
    hacf, errs, _ = parse(f"ping {host}\nping_group g {host}\n")
    assert errs == []
    assert hacf.ping_nodes == ((host,), (host,))  # type: ignore[attr-defined]


def test_ping6_is_a_ping_node() -> None:
    """heartbeat's `ping6` plugin (reference §7): now pinged, not ignored with a warning."""
    hacf, errs, warns = parse("ping6 2001:db8::1 fe80::2%eth1\n")
    assert errs == [] and not any("ping6" in w for w in warns)
    assert hacf.ping == ("2001:db8::1", "fe80::2%eth1")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("host", "why"), [
    ("198.18.1.300", "bad IPv4 address"),
    ("10.1", "bad IPv4 address"),
    ("2001:db8::zz", "bad IPv6 address"),
    ("2001:db8:::1", "bad IPv6 address"),
    ("fe80::1", "a link-local IPv6 address needs its interface (fe80::1%eth0)"),
])
@pytest.mark.parametrize("directive", ["ping", "ping6", "ping_group g"])
def test_bad_addresses_are_errors(host: str, why: str, directive: str) -> None:
    hacf, errs, _ = parse(f"{directive} {host}\n")
    name = directive.split(maxsplit=1)[0]
    assert errs == [f"{PATH}:3: {name} {host}: {why}"]
    assert hacf.ping_nodes == ()  # type: ignore[attr-defined]
