"""haresources: groups, continuation, comments, resource forms and their validation."""

from __future__ import annotations

import pytest
from config_helpers import lines_of, texts

from twinbeat.config.haresources import parse_haresources, parse_resource
from twinbeat.config.messages import Report
from twinbeat.config.model import Group, IPaddrResource, ScriptResource

PATH = "/etc/ha.d/haresources"
NODES = ("prime", "calc")


def parse(text: str, nodes: tuple[str, ...] = NODES) -> tuple[tuple[Group, ...], Report]:
    lines, report = lines_of(text, PATH)
    return parse_haresources(lines, PATH, report, nodes), report


def test_howto_line() -> None:
    groups, report = parse("prime 198.18.1.100 apache2\n")
    assert report.errors == []
    assert groups == (Group(
        key="198.18.1.100", primary="prime",
        resources=(IPaddrResource("IPaddr", "198.18.1.100", None, None, None, "198.18.1.100"),
                   ScriptResource("apache2", (), "apache2")),
        path=PATH, line=1),)


@pytest.mark.parametrize(("text", "expected"), [
    ("IPaddr::198.18.1.100/24/eth0",
     IPaddrResource("IPaddr", "198.18.1.100", 24, "eth0", None, "IPaddr::198.18.1.100/24/eth0")),
    ("IPaddr2::198.18.1.100/24/eth0/198.18.1.255",
     IPaddrResource("IPaddr2", "198.18.1.100", 24, "eth0", "198.18.1.255",
                    "IPaddr2::198.18.1.100/24/eth0/198.18.1.255")),
    ("IPaddr::198.18.1.100/24/198.18.1.255",
     IPaddrResource("IPaddr", "198.18.1.100", 24, None, "198.18.1.255",
                    "IPaddr::198.18.1.100/24/198.18.1.255")),
    ("198.18.1.100/255.255.255.0/eth0",
     IPaddrResource("IPaddr", "198.18.1.100", 24, "eth0", None,
                    "198.18.1.100/255.255.255.0/eth0")),
    ("IPaddr::198.18.1.100",
     IPaddrResource("IPaddr", "198.18.1.100", None, None, None, "IPaddr::198.18.1.100")),
    ("Filesystem::/dev/sda1::/data1::ext2",
     ScriptResource("Filesystem", ("/dev/sda1", "/data1", "ext2"),
                    "Filesystem::/dev/sda1::/data1::ext2")),
    ("httpd", ScriptResource("httpd", (), "httpd")),
])
def test_resource_forms(text: str, expected: object) -> None:
    assert parse_resource(text) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("IPaddr::198.18.1.300", "bad IPv4 address"),
    ("198.18.1", "bad IPv4 address"),  # no: not the bare form (only 2 dots) -> script name
    ("IPaddr::198.18.1.100/33", "bad prefix length"),
    ("IPaddr::198.18.1.100/0", "bad prefix length"),
    ("IPaddr::198.18.1.100/255.0.255.0", "bad prefix length"),
    ("IPaddr::198.18.1.100/24/eth0/198.18.1.999", "bad broadcast address"),
    ("IPaddr::198.18.1.100/24/eth0/1.2.3.4/x", "too many"),
    ("IPaddr::127.0.0.1", "cannot be a service address"),
    ("IPaddr::224.0.0.1", "cannot be a service address"),
    ("IPaddr::", "IPaddr takes one argument"),
    ("IPaddr::1.2.3.4::x", "takes one argument"),
    ("IPaddr::198.18.1.100/24/this-name-is-too-long", "bad interface name"),
    ("/etc/init.d/apache2", "not a resource script name"),
    ("apache2::", "empty argument"),
    ("::x", "empty resource name"),
])
def test_bad_resources(text: str, problem: str) -> None:
    result = parse_resource(text)
    if text == "198.18.1":
        assert result == ScriptResource("198.18.1", (), "198.18.1")
        return
    assert isinstance(result, str) and problem in result


def test_bad_ip_is_reported_with_file_and_line() -> None:
    groups, report = parse("# header\nprime 198.18.1.300 apache2\ncalc httpd\n")
    assert texts(report.errors) == [f"{PATH}:2: 198.18.1.300: bad IPv4 address 198.18.1.300"]
    assert [g.key for g in groups] == ["httpd"]


def test_continuation_and_mid_line_comments() -> None:
    groups, report = parse("\n# comment\nPRIME IPaddr::198.18.1.100/24/eth0 \\\n"
                           "   apache2 # the web server\\\n"
                           "calc mysql # a comment ends the line\n")
    assert report.errors == []
    assert [(g.primary, g.key, g.line, [r.text for r in g.resources]) for g in groups] == [
        ("prime", "IPaddr::198.18.1.100/24/eth0", 3, ["IPaddr::198.18.1.100/24/eth0",
                                                      "apache2"]),
        ("calc", "mysql", 5, ["mysql"]),
    ]


def test_continuation_in_a_comment_does_not_join() -> None:
    groups, report = parse("prime apache2 # not continued \\\ncalc mysql\n")
    assert report.errors == [] and len(groups) == 2


def test_node_must_be_in_hacf() -> None:
    groups, report = parse("prime apache2\nsirius mysql\n")
    assert groups[0].key == "apache2" and len(groups) == 1
    assert texts(report.errors) == [f"{PATH}:2: bad nodename sirius (not a `node` in ha.cf)"]


def test_group_key_must_be_unique() -> None:
    _, report = parse("prime apache2\ncalc apache2 mysql\n")
    assert texts(report.errors) == [
        f"{PATH}:2: apache2: already the key of the group at line 1 (the first resource "
        "must be unique)"]


def test_same_address_twice_is_an_error() -> None:
    _, report = parse("prime 198.18.1.100 apache2\ncalc mysql IPaddr::198.18.1.100/24\n")
    assert texts(report.errors) == [
        f"{PATH}:2: IPaddr::198.18.1.100/24: address 198.18.1.100 already used (line 1)"]


def test_node_without_resources() -> None:
    _, report = parse("prime\n")
    assert texts(report.errors) == [f"{PATH}:1: prime: a group needs at least one resource"]
