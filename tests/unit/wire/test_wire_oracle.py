"""Differential tests: the C codec against tests/reference_codec.py (written from
docs/protocol.md only). Same bytes out for every frame; same verdict, and the same reason,
for every byte string in."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

import reference_codec as ref
from twinbeat import wire

KEYS: dict[int, tuple[str, bytes | None]] = {
    0: ("crc", None),
    1: ("sha256", b"oracle-256"),
    2: ("sha1", b"oracle-1"),
    3: ("md5", b"oracle-md5"),
    9: ("sha256", b"\xff" * 100),  # longer than the block: hashed first
}
#: One signer per slot (a Keyring is immutable: its active slot is fixed).
SIGNERS = {index: wire.Keyring({index: KEYS[index]}, index) for index in KEYS}
#: Receivers: one that knows every slot (possible only while it signs with crc, §Keys), and
#: one with the HMAC slots only, as a node with a keyed active slot must be.
RECEIVERS = {
    "all": (wire.Keyring(KEYS, 0), ref.make_keys(KEYS, 0)),
    "hmac": (wire.Keyring(HMAC := {i: k for i, k in KEYS.items() if k[0] != "crc"}, 1),
             ref.make_keys(HMAC, 1)),
}

u32 = st.integers(0, 2**32 - 1)
u8 = st.integers(0, 255)
fields = st.fixed_dictionaries({
    "sender": st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                      max_size=64),
    "fingerprint": u32, "generation": u32, "sequence": u32, "timestamp_ms": u32,
    "echo_ms": u32, "echo_delay_ms": st.integers(0, 65535), "link_id": u8,
    "node_state": u8, "node_flags": u8, "groups": st.binary(max_size=64),
})
key_index = st.sampled_from(sorted(KEYS))
receiver = st.sampled_from(sorted(RECEIVERS))


def c_verdict(data: bytes, name: str = "all") -> object:
    try:
        frame = wire.decode_untrusted(data, RECEIVERS[name][0])
    except wire.WireError as exc:
        return ("reject", exc.reason)
    return ("accept", tuple(frame))


def ref_verdict(data: bytes, name: str = "all") -> object:
    try:
        frame = ref.decode(data, RECEIVERS[name][1])
    except ref.RefError as exc:
        return ("reject", exc.reason)
    return ("accept", tuple(vars(frame).values()))


@settings(max_examples=400)
@given(fields, key_index)
def test_encode_is_byte_identical_and_round_trips(f: dict, index: int) -> None:
    data = wire.encode(SIGNERS[index], **f)
    assert data == ref.encode(RECEIVERS["all"][1][index], index, **f)
    expected = tuple({**f, "key_index": index}[name] for name in wire.Frame._fields)
    assert c_verdict(data) == ref_verdict(data) == ("accept", expected)


@settings(max_examples=600)
@given(fields, key_index, receiver, st.data())
def test_mutated_frames_get_the_same_verdict(
    f: dict, index: int, name: str, data: st.DataObject
) -> None:
    frame = bytearray(wire.encode(SIGNERS[index], **f))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(frame) - 1))
        frame[i] = data.draw(u8)
    cut = data.draw(st.integers(0, len(frame)))
    tail = data.draw(st.binary(max_size=8))
    mutated = bytes(frame[:cut]) + tail
    assert c_verdict(mutated, name) == ref_verdict(mutated, name)


@settings(max_examples=600)
@given(st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=120).map(lambda b: b"TB\x01\x01" + b),
    st.tuples(key_index, st.integers(0, 80), st.binary(max_size=160)).map(
        lambda t: b"TB\x01\x01" + bytes(t[:2]) + t[2]
    ),
), receiver)
def test_random_bytes_get_the_same_verdict(data: bytes, name: str) -> None:
    assert c_verdict(data, name) == ref_verdict(data, name)


def _accepted(build: Callable[[], object]) -> bool:
    try:
        build()
    except ValueError:
        return False
    return True


@settings(max_examples=300)
@given(st.dictionaries(st.integers(0, 15), st.sampled_from(["crc", "sha256", "sha1", "md5"]),
                       min_size=1, max_size=6), st.integers(0, 15))
def test_the_same_slot_sets_are_refused(methods: dict[int, str], active: int) -> None:
    """§Keys: a crc slot beside a keyed active slot is refused by both codecs, and only that."""
    keys = {i: (m, None if m == "crc" else b"k") for i, m in methods.items()}
    c_ok = _accepted(lambda: wire.Keyring(keys, active))
    assert c_ok == _accepted(lambda: ref.make_keys(keys, active))
    weaker = active in methods and methods[active] != "crc" and "crc" in methods.values()
    assert c_ok == (active in methods and not weaker)


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_cobs_matches_the_reference(frame: bytes) -> None:
    frame = frame[: wire.MAX_FRAME]
    framed = wire.cobs_frame(frame)
    assert framed == ref.cobs_encode(frame) + b"\x00"
    assert b"\x00" not in framed[:-1]
    assert ref.cobs_decode(framed[:-1]) == frame
