"""heartbeat 3.0.6 messages from an attacker: only WireError escapes, nothing forged verifies,
the serial reader stays bounded, and the engine counts what it refuses.

bench/fuzz_hb.py runs the same generator for a million inputs.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from twinbeat import wire

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
from hb_inputs import KEYS, SIGNERS, hostile_inputs, status_fields

ALL = wire.Keyring(KEYS, 0)  # every slot, so it signs with crc (protocol.md §Keys)
HMAC_ONLY = wire.Keyring({i: k for i, k in KEYS.items() if k[0] != "crc"}, 2)
WRONG = {i: wire.Keyring({i: (KEYS[i][0], b"other")}, i) for i in SIGNERS if i != 0}


def verdict(data: bytes, ring: wire.Keyring) -> wire.HbMessage | None:
    try:
        return wire.hb_decode_untrusted(data, ring)
    except wire.WireError as exc:
        assert exc.reason in wire.REASON_NAMES
        return None


def signed_content(msg: wire.HbMessage) -> list[wire.HbField]:
    """What the digest vouches for: every field but the classic auth field, in order."""
    return [f for f in msg.fields if f.name != b"auth"]


@settings(max_examples=1000)
@given(st.sampled_from([b"", b"###\n", b">>>\n"]), st.binary(max_size=2000))
def test_random_bytes_only_raise_wire_error(head: bytes, data: bytes) -> None:
    verdict(head + data, ALL)


def test_seeded_hostile_messages_never_forge_an_hmac_message() -> None:
    """20,000 damaged messages: one that verifies under an HMAC key says exactly what the
    signer said (blank lines, or the auth line moved, are heartbeat's own leeway)."""
    for original, data in hostile_inputs(seed=2, count=20_000):
        msg = verdict(data, HMAC_ONLY)
        if msg is not None and data != original:
            before = verdict(original, HMAC_ONLY)
            assert before is not None and signed_content(msg) == signed_content(before), data


@settings(max_examples=200)
@given(st.randoms(use_true_random=False), st.sampled_from(sorted(WRONG)), st.booleans())
def test_messages_signed_with_another_secret_never_verify(
    rng: random.Random, index: int, netstring: bool
) -> None:
    fields = status_fields(rng)
    data = (wire.hb_encode_netstring(fields, WRONG[index]) if netstring
            else wire.hb_encode_classic(fields, WRONG[index]))
    assert verdict(data, ALL) is None


@given(st.integers(wire.HB_MAX_MSG + 1, 1_000_000), st.sampled_from([b"###\n", b">>>\n"]))
def test_oversize_is_refused_before_any_work(size: int, head: bytes) -> None:
    try:
        wire.hb_decode_untrusted(head + bytes(size - 4), ALL)
    except wire.WireError as exc:
        assert exc.reason == "oversize"
    else:
        raise AssertionError("accepted an oversize message")


def test_the_serial_reader_survives_a_hostile_line() -> None:
    """Seeded noise built from the markers, frames, text and junk, fed in random reads: no
    message out is over its bound, and a valid message sent after the noise (with a line
    end and a delimiter to close whatever the noise left open) always comes out."""
    rng = random.Random(5)
    text = wire.hb_encode_classic(status_fields(rng), ALL)
    frame = bytes(range(1, 100))
    pieces = [b"\n", b">>>\n", b"<<<\n", b"\x00", b">>>", text, text[: len(text) // 2],
              wire.cobs_frame(frame), b"\xff" * 300]
    for _ in range(300):
        noise = b"".join(rng.choice(pieces) + rng.randbytes(rng.randint(0, 30))
                         for _ in range(rng.randint(1, 40)))
        stream = noise + b"\n\x00" + text
        deframer = wire.Deframer()
        got: list[bytes] = []
        pos = 0
        while pos < len(stream):
            step = rng.randint(1, 700)
            got += deframer.feed(stream[pos : pos + step])
            pos += step
        assert all(len(m) <= max(wire.HB_MAX_MSG, wire.MAX_FRAME) for m in got)
        assert got[-1] == text
