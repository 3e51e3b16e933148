"""Known answers through the C path: RFC 4231 / RFC 2202 HMACs, CRC-32, golden frames.

The golden frames are frozen bytes: if one stops decoding to its fields, the wire format
changed and needs a new version number (docs/protocol.md §Versioning rule).
"""

from __future__ import annotations

import hmac

import pytest

from twinbeat import wire
from twinbeat.wire._lib import ffi, lib

HI, JEFE_KEY, JEFE = b"Hi There", b"Jefe", b"what do ya want for nothing?"
BIG = b"Test Using Larger Than Block-Size Key - Hash Key First"

KATS = [
    # RFC 4231 test cases 1, 2, 3, 6
    ("sha256", b"\x0b" * 20, HI,
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    ("sha256", JEFE_KEY, JEFE,
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    ("sha256", b"\xaa" * 20, b"\xdd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    ("sha256", b"\xaa" * 131, BIG,
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    # RFC 2202 test cases 1, 2, 3, 6
    ("md5", b"\x0b" * 16, HI, "9294727a3638bb1c13f48ef8158bfc9d"),
    ("md5", JEFE_KEY, JEFE, "750c783e6ab0b503eaa86e310a5db738"),
    ("md5", b"\xaa" * 16, b"\xdd" * 50, "56be34521d144c88dbb8c733f0e8b3f6"),
    ("md5", b"\xaa" * 80, BIG, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"),
    ("sha1", b"\x0b" * 20, HI, "b617318655057264e28bc0b6fb378c8ef146be00"),
    ("sha1", JEFE_KEY, JEFE, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    ("sha1", b"\xaa" * 20, b"\xdd" * 50, "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
    ("sha1", b"\xaa" * 80, BIG, "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
]


def c_mac(method: str, key: bytes | None, data: bytes) -> bytes:
    """The full-length MAC of `data` through the C library's `tb_mac`, keyed as the codec
    keys it (a public `Keyring`): the C path under test, with no hook in the facade."""
    ring = wire.Keyring({0: (method, key)}, 0)
    out = ffi.new("uint8_t[]", 64)
    n = lib.tb_mac(ring.session().ptrs[0], data, len(data), out, 64)
    assert n > 0, f"tb_mac failed ({n})"
    return bytes(ffi.buffer(out, n))


@pytest.mark.parametrize(("method", "key", "data", "expected"), KATS)
def test_hmac_known_answers(method: str, key: bytes, data: bytes, expected: str) -> None:
    assert c_mac(method, key, data).hex() == expected


def test_crc32_check_value() -> None:
    assert c_mac("crc", None, b"123456789") == (0xCBF43926).to_bytes(4, "big")


def test_sha256_frame_mac_is_the_first_16_bytes_of_the_rfc_tag() -> None:
    """Frames carry HMAC-SHA256 truncated to 16 bytes over everything before the MAC."""
    ring = wire.Keyring({0: ("sha256", JEFE_KEY)}, 0)
    data = wire.encode(ring, **GOLDEN[0][3])
    assert data[-16:] == hmac.digest(JEFE_KEY, data[:-16], "sha256")[:16]
    assert data[-16:] == c_mac("sha256", JEFE_KEY, data[:-16])[:16]


def test_repeated_macs_on_one_key_do_not_carry_state() -> None:
    """The C key re-initialises its working context per frame; the answer must not drift."""
    ring = wire.Keyring({0: ("sha256", b"k")}, 0)
    first = wire.encode(ring, **GOLDEN[0][3])
    for _ in range(100):
        assert wire.encode(ring, **GOLDEN[0][3]) == first


F1 = dict(sender="prime", fingerprint=0x1234ABCD, generation=7, sequence=42,
          timestamp_ms=123456, echo_ms=123000, echo_delay_ms=12, link_id=0, node_state=2,
          node_flags=3, groups=b"\x02")
F2 = dict(sender="calc", fingerprint=0xFFFFFFFF, generation=1, sequence=1,
          timestamp_ms=0xFFFFFFFF, echo_ms=0, echo_delay_ms=65535, link_id=0x80, node_state=1,
          node_flags=0, groups=b"")
F3 = dict(sender="node-b.example", fingerprint=0, generation=3, sequence=0xDEADBEEF,
          timestamp_ms=1000, echo_ms=999, echo_delay_ms=1, link_id=1, node_state=2,
          node_flags=1, groups=bytes([0x02, 0x00, 0x12, 0x21]))
F4 = dict(sender="prime", fingerprint=1, generation=2, sequence=3, timestamp_ms=4, echo_ms=5,
          echo_delay_ms=6, link_id=0, node_state=4, node_flags=0, groups=b"\x00")
MD5_KEY = b"86e07a217fcd61fb981872ec57b68845"  # DESIGN.md's example authkeys

GOLDEN = [
    ("sha256", MD5_KEY, 1, F1,
     "5442010101057072696d651234abcd000000070000002a0001e2400001e078000c00020301026cd6de3c"
     "4c800f211be9c1eae2824269"),
    ("sha1", b"sha1 key", 2, F2,
     "54420101020463616c63ffffffff0000000100000001ffffffff00000000ffff800100008c76bd1a7088"
     "ad184f166db20668a3a820928877"),
    ("md5", MD5_KEY, 15, F3,
     "544201010f0e6e6f64652d622e6578616d706c650000000000000003deadbeef000003e8000003e70001"
     "0102010402001221f6d6f7056a9461f1f01170f88579eeeb"),
    ("crc", None, 0, F4,
     "5442010100057072696d65000000010000000200000003000000040000000500060004000100a8637b8b"),
]


@pytest.mark.parametrize(("method", "key", "index", "fields", "hexbytes"), GOLDEN)
def test_golden_frames_decode_to_the_same_fields_forever(
    method: str, key: bytes | None, index: int, fields: dict, hexbytes: str
) -> None:
    ring = wire.Keyring({index: (method, key)}, index)
    data = bytes.fromhex(hexbytes)
    assert wire.decode_untrusted(data, ring) == wire.Frame(**fields, key_index=index)
    assert wire.encode(ring, **fields) == data
