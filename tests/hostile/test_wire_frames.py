"""decode_untrusted against hostile bytes: only WireError escapes, nothing forged verifies.

bench/fuzz_wire.py runs the same generator for a million inputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from twinbeat import wire

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
from wire_inputs import KEYS, WRONG_KEYS, hostile_inputs

HMAC_ONLY = wire.Keyring({i: k for i, k in KEYS.items() if k[0] != "crc"}, 1)
ALL = wire.Keyring(KEYS, 0)  # knows every slot, so it signs with crc (protocol.md §Keys)


def verdict(data: bytes, ring: wire.Keyring) -> wire.Frame | None:
    try:
        return wire.decode_untrusted(data, ring)
    except wire.WireError as exc:
        assert exc.reason in wire.REASON_NAMES
        return None


@settings(max_examples=1000)
@given(st.binary(max_size=1000))
def test_random_bytes_only_raise_wire_error(data: bytes) -> None:
    verdict(data, ALL)


def test_seeded_hostile_inputs_never_forge_an_hmac_frame() -> None:
    """20,000 damaged frames: each is refused unless it equals the frame it came from."""
    for original, data in hostile_inputs(seed=1, count=20_000):
        frame = verdict(data, HMAC_ONLY)
        if frame is not None:
            assert data == original, data.hex()


@settings(max_examples=200)
@given(st.integers(0, 2**32 - 1), st.sampled_from(sorted(WRONG_KEYS)))
def test_frames_signed_with_another_secret_never_verify(seq: int, index: int) -> None:
    wrong = wire.Keyring(WRONG_KEYS, index)
    data = wire.encode(
        wrong, sender="mallory", fingerprint=0, generation=1, sequence=seq, timestamp_ms=0,
        echo_ms=0, echo_delay_ms=0, link_id=0, node_state=2, node_flags=0, groups=b"\x02",
    )
    assert verdict(data, ALL) is None


@given(st.integers(257, 100_000))
def test_oversize_is_refused_before_any_work(size: int) -> None:
    try:
        wire.decode_untrusted(b"TB" + bytes(size - 2), ALL)
    except wire.WireError as exc:
        assert exc.reason == "oversize"
    else:
        raise AssertionError("accepted an oversize frame")
