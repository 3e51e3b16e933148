"""Ping nodes: the ICMP codec and the reachability rule of twinbeat.links.pinger (no I/O)."""

from __future__ import annotations

import struct

from twinbeat.links.pinger import (
    ICMP_ECHO_REPLY,
    ICMP_ECHO_REQUEST,
    Pinger,
    echo_request,
    icmp_checksum,
    parse_echo_reply,
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
