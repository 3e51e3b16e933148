"""Ping nodes: the ICMP codec and the reachability rule of twinbeat.links.pinger (no I/O)."""

from __future__ import annotations

import ipaddress
import socket
import struct

import trio

from twinbeat.links.pinger import (
    ICMP6_ECHO_REPLY,
    ICMP6_ECHO_REQUEST,
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST,
    Pinger,
    Target,
    address_key,
    echo6_request,
    echo_request,
    icmp6_filter_passing_echo_replies,
    icmp_checksum,
    parse_echo6_reply,
    parse_echo_reply,
    pick_target,
)


def words_checksum(data: bytes) -> int:
    """An independent RFC 1071 sum: 32-bit accumulate, fold once at the end."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
    while total > 0xFFFF:
        total = (total >> 16) + (total & 0xFFFF)
    return 0xFFFF - total


def test_checksum_of_known_data():
    # RFC 1071 §3's example: the words sum to 0xddf2, so the checksum is its complement.
    assert icmp_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    # A bare echo request (type 8, everything else zero): 0x0800 -> 0xf7ff.
    assert icmp_checksum(bytes.fromhex("0800000000000000")) == 0xF7FF
    assert icmp_checksum(b"") == 0xFFFF
    assert icmp_checksum(b"\x01") == 0xFEFF  # odd length: padded with a zero byte
    assert icmp_checksum(b"\xff\xff") == 0x0000  # end-around carry keeps 0xffff as is


def test_checksum_agrees_with_an_independent_sum_and_verifies_to_zero():
    samples = [bytes(range(n)) for n in range(0, 64, 7)] + [b"\xff" * 1001, b"\x80\x00" * 9]
    for data in samples:
        assert icmp_checksum(data) == words_checksum(data)
        if len(data) % 2 == 0:
            # Inserting the checksum makes the whole sum verify to zero (how receivers check).
            patched = data + struct.pack("!H", icmp_checksum(data))
            assert icmp_checksum(patched) == 0


def test_echo_request_layout():
    packet = echo_request(0x1234, 0xBEEF)
    kind, code, checksum, ident, sequence = struct.unpack("!BBHHH", packet[:8])
    assert (kind, code, ident, sequence) == (ICMP_ECHO_REQUEST, 0, 0x1234, 0xBEEF)
    assert packet[8:] == b"twinbeat"
    assert icmp_checksum(packet) == 0
    zeroed = packet[:2] + b"\0\0" + packet[4:]
    assert checksum == icmp_checksum(zeroed)


def test_echo_request_known_bytes():
    # Worked by hand: 0800 + 0001 + 0001 + 7477 + 696e + 6265 + 6174 = 1a9c0 -> a9c1 -> 563e.
    assert echo_request(1, 1) == bytes.fromhex("0800563e00010001") + b"twinbeat"


def ip_packet(icmp: bytes, ihl: int = 5) -> bytes:
    options = b"\x01" * ((ihl - 5) * 4)  # NOPs
    total = 4 * ihl + len(icmp)
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 0, 0, 64, 1, 0,
                         bytes([198, 18, 100, 2]), bytes([198, 18, 100, 1]))
    return header + options + icmp


def reply(ident: int, kind: int = ICMP_ECHO_REPLY) -> bytes:
    body = struct.pack("!BBHHH", kind, 0, 0, ident, 7) + b"twinbeat"
    return body[:2] + struct.pack("!H", icmp_checksum(body)) + body[4:]


def test_parse_echo_reply():
    assert parse_echo_reply(ip_packet(reply(0x4242)), 0x4242)
    assert parse_echo_reply(ip_packet(reply(0x4242), ihl=6), 0x4242)  # IP options skipped
    assert parse_echo_reply(ip_packet(reply(0x4242)[:8]), 0x4242)  # the header is enough
    assert not parse_echo_reply(ip_packet(reply(0x4242)), 0x4243)  # someone else's ping
    assert not parse_echo_reply(ip_packet(reply(0x4242, kind=ICMP_ECHO_REQUEST)), 0x4242)
    assert not parse_echo_reply(ip_packet(reply(0x4242, kind=3)), 0x4242)  # unreachable
    assert not parse_echo_reply(ip_packet(reply(0x4242)[:7]), 0x4242)  # truncated ICMP
    assert not parse_echo_reply(ip_packet(reply(0x4242), ihl=15)[:40], 0x4242)
    assert not parse_echo_reply(b"", 0x4242)
    assert not parse_echo_reply(b"\x45" * 19, 0x4242)


def test_reachability_is_any_ping_node_heard_within_deadping_and_reported_on_change():
    reports: list[bool] = []
    pinger = Pinger([("198.18.100.9",), ("198.18.100.7", "198.18.100.8")], 0.2, 1.0,
                    reports.append)
    pinger._evaluate(0.0)
    assert reports == [False]  # nothing heard yet: the first answer is "unreachable"
    pinger._evaluate(0.5)
    assert reports == [False]  # no change, no report
    pinger.last_reply["198.18.100.8"] = 0.5  # one host of the ping group answered
    pinger._evaluate(0.6)
    assert reports == [False, True]
    pinger._evaluate(1.5)  # exactly deadping after the reply: still up
    assert reports == [False, True]
    pinger._evaluate(1.6)
    assert reports == [False, True, False]
    pinger.last_reply["198.18.100.9"] = 2.0
    pinger._evaluate(2.0)
    assert reports == [False, True, False, True]
    assert pinger.reachable is True


def test_pinger_ident_fits_sixteen_bits():
    pinger = Pinger([("198.18.100.2",)], 0.2, 1.0, lambda _r: None)
    assert 0 <= pinger.ident <= 0xFFFF


# -- IPv6 (issue #11, item 11) -----------------------------------------------------------------


def test_echo6_request_layout_leaves_the_checksum_to_the_kernel():
    packet = echo6_request(0x1234, 0xBEEF)
    assert packet == struct.pack("!BBHHH", ICMP6_ECHO_REQUEST, 0, 0, 0x1234, 0xBEEF) + b"twinbeat"


def test_parse_echo6_reply_has_no_ip_header():
    reply6 = struct.pack("!BBHHH", ICMP6_ECHO_REPLY, 0, 0x1111, 0x4242, 7) + b"twinbeat"
    assert parse_echo6_reply(reply6, 0x4242)
    assert parse_echo6_reply(reply6[:8], 0x4242)
    assert not parse_echo6_reply(reply6, 0x4243)  # someone else's ping
    assert not parse_echo6_reply(echo6_request(0x4242, 7), 0x4242)  # our own request (lo)
    assert not parse_echo6_reply(bytes([1]) + reply6[1:], 0x4242)  # destination unreachable
    assert not parse_echo6_reply(reply6[:7], 0x4242)
    assert not parse_echo6_reply(b"", 0x4242)


def info(family: int, sockaddr: tuple) -> tuple:
    return (family, socket.SOCK_RAW, 0, "", sockaddr)


V4 = info(socket.AF_INET, ("198.18.1.254", 0))
V6 = info(socket.AF_INET6, ("2001:db8::1", 0, 0, 0))


def test_a_name_with_both_families_is_pinged_over_ipv4():
    """What the pinger always did, so an existing ha.cf behaves as before."""
    for infos in ([V4, V6], [V6, V4]):
        target = pick_target(infos)
        assert target is not None and target.family == socket.AF_INET
        assert target.sockaddr == ("198.18.1.254", 0)


def test_a_name_with_only_an_ipv6_address_is_pinged_over_ipv6():
    """Before: resolved as IPv4 only, never answered, and the node isolated itself for ever."""
    target = pick_target([V6])
    assert target == Target(socket.AF_INET6, ("2001:db8::1", 0, 0, 0),
                            (socket.AF_INET6, ipaddress.ip_address("2001:db8::1"), 0))


def test_no_usable_address():
    assert pick_target([]) is None
    assert pick_target([info(socket.AF_UNIX, ("/x",))]) is None


def test_address_keys_match_replies_to_hosts():
    v6 = socket.AF_INET6
    # The same address written differently is the same host; the scope is kept only where it
    # means something (link-local), and whether Python printed it into the text does not matter.
    assert address_key(v6, ("2001:DB8::0:1", 0, 0, 0)) == address_key(v6, ("2001:db8::1", 0, 0, 0))
    assert address_key(v6, ("2001:db8::1", 0, 0, 3)) == address_key(v6, ("2001:db8::1", 0, 0, 0))
    assert address_key(v6, ("fe80::1%eth0", 0, 0, 2)) == address_key(v6, ("fe80::1", 0, 0, 2))
    assert address_key(v6, ("fe80::1", 0, 0, 2)) != address_key(v6, ("fe80::1", 0, 0, 3))
    mapped = ("::ffff:198.18.1.1", 0, 0, 0)
    assert address_key(socket.AF_INET, ("198.18.1.1", 0)) != address_key(v6, mapped)


def test_icmp6_filter_passes_echo_replies_only():
    words = struct.unpack("=8I", icmp6_filter_passing_echo_replies())

    def blocked(kind: int) -> bool:
        return bool(words[kind >> 5] & (1 << (kind & 31)))

    assert not blocked(ICMP6_ECHO_REPLY)
    assert all(blocked(kind) for kind in range(256) if kind != ICMP6_ECHO_REPLY)


async def test_a_name_is_resolved_once_to_its_ipv6_address(monkeypatch):
    calls: list[str] = []

    async def resolve(host, port, **_kwargs):
        calls.append(host)
        return [V6]

    monkeypatch.setattr(trio.socket, "getaddrinfo", resolve)
    pinger = Pinger([("pingnode.example",)], 0.2, 1.0, lambda _r: None)
    first = await pinger._target("pingnode.example")
    assert first is not None and first.family == socket.AF_INET6
    assert await pinger._target("pingnode.example") == first
    assert calls == ["pingnode.example"]
