"""The UDP link's kernel filter (links/ownfilter.py), run by a tiny interpreter of the
instructions it uses; the kernel runs it in tests/integration/test_links_udp.py."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from twinbeat.links.ownfilter import ACCEPT, IP_SOURCE, SKF_AD_RANDOM, program


def instructions(code: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("=HBBI", code[i:i + 8]) for i in range(0, len(code), 8)]


def run(code: bytes, source: str, rand: int = 0) -> int:
    """Classic BPF, the six instructions the program uses; `rand` is what `ld rand` reads."""
    prog, pc, a = instructions(code), 0, 0
    while True:
        op, jt, jf, k = prog[pc]
        pc += 1
        if op == 0x20:
            assert k in (IP_SOURCE, SKF_AD_RANDOM)
            a = int(ipaddress.IPv4Address(source)) if k == IP_SOURCE else rand
        elif op == 0x54:
            a &= k
        elif op == 0x15:
            pc += jt if a == k else jf
        else:
            assert op == 0x06
            return k


def test_our_addresses_are_dropped_and_the_peers_kept() -> None:
    code = program(["198.18.2.1", "198.18.3.1"])
    assert len(instructions(code)) == 5
    assert run(code, "198.18.2.1") == 0
    assert run(code, "198.18.3.1") == 0
    assert run(code, "198.18.2.2") == ACCEPT  # the peer


def test_no_address_accepts_everything() -> None:
    assert run(program([]), "198.18.2.1") == ACCEPT


def test_without_a_trusted_source_nothing_is_sampled() -> None:
    """Before the peer's first authentic frame every source is heard in full."""
    code = program(["198.18.2.1"], trusted=[], sample=16)
    assert all(run(code, "198.18.2.66", rand) == ACCEPT for rand in range(64))


def test_a_trusted_source_passes_and_the_others_are_sampled() -> None:
    code = program(["198.18.2.1"], trusted=["198.18.2.2", "198.18.9.9"], sample=16)
    assert run(code, "198.18.2.1", 0) == 0  # ours: dropped, even when the sample says yes
    for rand in range(64):
        assert run(code, "198.18.2.2", rand) == ACCEPT
        assert run(code, "198.18.9.9", rand) == ACCEPT
    passed = [rand for rand in range(64) if run(code, "198.18.2.66", rand) == ACCEPT]
    assert passed == [0, 16, 32, 48]  # one in 16


def test_sample_must_be_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="power of two"):
        program([], ["198.18.2.2"], sample=12)
