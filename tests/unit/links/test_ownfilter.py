"""The own-broadcast filter's program (links/ownfilter.py); the kernel runs it in
tests/integration/test_links_udp.py."""

from __future__ import annotations

import struct

from twinbeat.links.ownfilter import ACCEPT, IP_SOURCE, program


def instructions(code: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("=HBBI", code[i:i + 8]) for i in range(0, len(code), 8)]


def run(code: bytes, source: int) -> int:
    """A tiny interpreter of the four instructions the program uses."""
    prog, pc, a = instructions(code), 0, 0
    while True:
        op, jt, jf, k = prog[pc]
        if op == 0x20:
            assert k == IP_SOURCE
            a, pc = source, pc + 1
        elif op == 0x15:
            pc = pc + 1 + (jt if a == k else jf)
        else:
            return k


def test_our_addresses_are_dropped_and_the_peers_kept() -> None:
    code = program(["198.18.2.1", "198.18.3.1"])
    assert len(instructions(code)) == 5
    assert run(code, 0xC6120201) == 0  # 198.18.2.1
    assert run(code, 0xC6120301) == 0  # 198.18.3.1
    assert run(code, 0xC6120202) == ACCEPT  # the peer, 198.18.2.2


def test_no_address_accepts_everything() -> None:
    assert run(program([]), 0xC6120201) == ACCEPT
