"""twinbeat.wire facade: import, Keyring validation, misuse vs rejection, Frame semantics."""

from __future__ import annotations

import re
import threading
import zlib
from pathlib import Path

import pytest

from twinbeat import wire
from twinbeat.wire import _advice

HEADER = Path(__file__).resolve().parents[3] / "csrc" / "twinbeat_wire.h"

FIELDS = dict(
    sender="prime", fingerprint=0x1234ABCD, generation=7, sequence=42, timestamp_ms=123456,
    echo_ms=123000, echo_delay_ms=12, link_id=0, node_state=2, node_flags=3, groups=b"\x02",
)


@pytest.fixture
def ring() -> wire.Keyring:
    return wire.Keyring({1: ("sha256", b"secret")}, 1)


#: Signs with crc (slot 2) and also knows slot 1: the rejection tests edit frames and re-sign
#: them with a plain CRC-32. A crc active slot may sit beside keyed ones (§Keys), not under.
CRC_RING = wire.Keyring({1: ("sha256", b"secret"), 2: ("crc", None)}, 2)


def test_import_smoke() -> None:
    assert wire.MAX_FRAME == 256
    assert callable(wire.encode) and callable(wire.decode_untrusted)


def test_reason_table_is_generated_from_the_header() -> None:
    names = re.findall(r"#define TB_ERR_(\w+) -\d+", HEADER.read_text())
    expected = {n.lower() for n in names} - {"arg", "crypto", "garbage"}
    assert expected == wire.REASON_NAMES
    assert expected == {"oversize", "length", "magic", "version", "key", "mac", "field", "syntax"}


def test_build_advice_names_the_packages() -> None:
    assert "apt-get install gcc libssl-dev" in _advice.BUILD_ADVICE


def test_round_trip_two_node_frame_is_54_bytes(ring: wire.Keyring) -> None:
    data = wire.encode(ring, **FIELDS)
    assert len(data) == 54
    assert wire.decode_untrusted(data, ring) == wire.Frame(**FIELDS, key_index=1)


def test_decoded_frame_is_a_real_immutable_frame(ring: wire.Keyring) -> None:
    frame = wire.decode_untrusted(wire.encode(ring, **FIELDS), ring)
    assert type(frame) is wire.Frame
    assert hash(frame) == hash(wire.Frame(**FIELDS, key_index=1))
    with pytest.raises(AttributeError):
        frame.sequence = 1  # type: ignore[misc]
    assert frame._asdict() == {**FIELDS, "key_index": 1}


def test_decode_accepts_bytearray_and_memoryview(ring: wire.Keyring) -> None:
    data = wire.encode(ring, **FIELDS)
    assert wire.decode_untrusted(bytearray(data), ring).sequence == 42
    assert wire.decode_untrusted(memoryview(data), ring).sequence == 42


@pytest.mark.parametrize(
    ("keys", "active"),
    [
        ({1: ("sha256", b"k")}, 2),  # active not configured
        ({16: ("sha256", b"k")}, 16),  # index out of range
        ({-1: ("sha256", b"k")}, -1),
        ({1: ("sha512", b"k")}, 1),  # unknown method
        ({1: ("sha1", b"")}, 1),  # empty HMAC key
        ({1: ("md5", None)}, 1),
        ({1: ("crc", b"key")}, 1),  # crc takes no key
        ({1: ("sha256", b"k"), 2: ("crc", None)}, 1),  # crc is weaker than the active key
        ({0: ("crc", None), 1: ("md5", b"k"), 2: ("sha1", b"k")}, 2),
    ],
)
def test_keyring_rejects_bad_configuration(keys: dict, active: int) -> None:
    with pytest.raises(ValueError):
        wire.Keyring(keys, active)


def test_crc_may_be_active_beside_keyed_slots() -> None:
    """A node that signs with crc protects nothing; keyed slots beside it weaken nothing."""
    ring = wire.Keyring({0: ("crc", None), 1: ("md5", b"k"), 2: ("sha256", b"k")}, 0)
    assert ring.active == 0


def test_keyring_is_immutable() -> None:
    """Switching the active slot later could put a crc slot beside a keyed active one."""
    ring = wire.Keyring({1: ("sha256", b"k"), 2: ("sha1", b"k")}, 1)
    with pytest.raises(AttributeError):
        ring.active = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ring.extra = 1  # type: ignore[attr-defined]


def test_keyring_repr_hides_key_bytes() -> None:
    ring = wire.Keyring({3: ("sha1", b"topsecret")}, 3)
    assert "topsecret" not in repr(ring)
    assert ring.methods == {3: "sha1"} and ring.active == 3


@pytest.mark.parametrize(
    "change",
    [
        {"sender": ""},
        {"sender": "x" * 65},
        {"sender": "has space"},
        {"sender": "caf\u00e9"},
        {"groups": bytes(65)},
        {"sequence": -1},
        {"generation": 2**32},
        {"echo_delay_ms": 65536},
        {"link_id": 256},
        {"node_state": -1},
    ],
)
def test_encode_misuse_raises_value_error_not_wire_error(
    ring: wire.Keyring, change: dict
) -> None:
    with pytest.raises(ValueError) as info:
        wire.encode(ring, **{**FIELDS, **change})
    assert not isinstance(info.value, wire.WireError)


def test_encode_limits_are_inclusive(ring: wire.Keyring) -> None:
    data = wire.encode(ring, **{**FIELDS, "sender": "~" * 64, "groups": bytes(range(64))})
    frame = wire.decode_untrusted(data, ring)
    assert frame.sender == "~" * 64 and frame.groups == bytes(range(64))
    assert len(data) <= wire.MAX_FRAME


def _resign(data: bytes) -> bytes:
    """Replace the crc of a crc frame after a deliberate edit."""
    body = data[:-4]
    return body + zlib.crc32(body).to_bytes(4, "big")


def _crc_frame(**change: object) -> bytes:
    return wire.encode(CRC_RING, **{**FIELDS, **change})


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d + bytes(300), "oversize"),
        (lambda d: d[:36], "length"),
        (lambda d: b"XB" + d[2:], "magic"),
        (lambda d: d[:2] + b"\x02" + d[3:], "version"),
        (lambda d: d[:3] + b"\x02" + d[4:], "field"),  # unknown type
        (lambda d: d[:4] + b"\x07" + d[5:], "key"),  # slot not configured
        (lambda d: d[:4] + b"\x10" + d[5:], "key"),  # slot 16 does not exist
        (lambda d: d[:5] + b"\x00" + d[6:], "field"),  # empty name
        (lambda d: d[:5] + b"\x41" + d[6:], "field"),  # name over 64
        (lambda d: d[:-1], "length"),
        (lambda d: d + b"\x00", "length"),
        (lambda d: _resign(d[:6] + b" " + d[7:-4]), "field"),  # space in name, good crc
        (lambda d: _resign(d[:-5] + b"\x41"), "field"),  # group count 65
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "mac"),
        (lambda d: d[:20] + bytes([d[20] ^ 0x80]) + d[21:], "mac"),
    ],
)
def test_each_rejection_reason(mutate, reason: str) -> None:
    data = mutate(_crc_frame(groups=b""))
    with pytest.raises(wire.WireError) as info:
        wire.decode_untrusted(data, CRC_RING)
    assert info.value.reason == reason


def test_wrong_key_is_a_mac_rejection() -> None:
    sender = wire.Keyring({1: ("sha256", b"one")}, 1)
    receiver = wire.Keyring({1: ("sha256", b"two")}, 1)
    with pytest.raises(wire.WireError, match="mac"):
        wire.decode_untrusted(wire.encode(sender, **FIELDS), receiver)


def test_keyring_works_from_several_threads(ring: wire.Keyring) -> None:
    """Each thread gets its own C keys, so concurrent use never corrupts a MAC."""
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        try:
            for seq in range(2000):
                data = wire.encode(ring, **{**FIELDS, "sequence": seed * 10_000 + seq})
                assert wire.decode_untrusted(data, ring).sequence == seed * 10_000 + seq
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
