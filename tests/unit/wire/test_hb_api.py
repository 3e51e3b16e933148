"""The heartbeat 3.0.6 codec's API: known answers, one test per rejection, encode refusals,
round trips (docs/protocol.md §heartbeat 3.0.6 messages)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinbeat import wire

F = wire.HbField
MD5 = wire.Keyring({1: ("md5", b"hb-lab-secret")}, 1)
SHA1 = wire.Keyring({2: ("sha1", b"hb-lab-secret")}, 2)
CRC = wire.Keyring({3: ("crc", None)}, 3)
SHA256 = wire.Keyring({4: ("sha256", b"hb-lab-secret")}, 4)
STATUS = [F(b"t", b"status"), F(b"st", b"active"), F(b"src", b"calc"),
          F(b"srcuuid", bytes(range(16)), True), F(b"seq", b"2a"), F(b"hg", b"4b")]


def reason(data: bytes, ring: wire.Keyring = MD5) -> str:
    with pytest.raises(wire.WireError) as info:
        wire.hb_decode_untrusted(data, ring)
    return info.value.reason


# -- known answers ---------------------------------------------------------------------------


def test_the_references_worked_example() -> None:
    """heartbeat-3.0.6.md §2.5, checked there against the installed libplumb and plugins."""
    ring = wire.Keyring({1: ("sha1", b"SuperSecretKey--SHHH!!!")}, 1)
    uuid = bytes.fromhex("5f0c1c2d3e4f40518293a4b5c6d7e8f9")
    fields = [F(b"t", b"status"), F(b"st", b"active"), F(b"dt", b"7530"),
              F(b"protocol", b"1"), F(b"src", b"node1"), F(b"srcuuid", uuid, True),
              F(b"seq", b"2a"), F(b"hg", b"4b"), F(b"ts", b"5f5e1000"),
              F(b"ld", b"0.05 0.03 0.01 1/123 4567"), F(b"ttl", b"3")]
    data = wire.hb_encode_netstring(fields, ring)
    assert len(data) == 304
    assert b"50:(0)auth=1 3c0ae1d83141d6a747cc5e2572f55e557b31af7a,%%%\n" in data
    assert data.endswith(b"%%%\n42:1 3ecbca42ed55541666a01276a5aa4397818761d1,")
    classic = wire.hb_encode_classic(fields, ring)
    assert b"(1)srcuuid=XwwcLT5PQFGCk6S1xtfo+Q==\n" in classic
    assert classic.endswith(b"auth=1 3c0ae1d83141d6a747cc5e2572f55e557b31af7a\n<<<\n")


@pytest.mark.parametrize("key", [b"k", b"hb-lab-secret", b"x" * 64, b"y" * 65, b"z" * 200])
def test_hmac_digests_are_rfc_2104_in_lower_case_hex(key: bytes) -> None:
    data = b"t=status\nsrc=calc\n"
    md5 = wire.Keyring({1: ("md5", key)}, 1)
    sha1 = wire.Keyring({1: ("sha1", key)}, 1)
    assert wire.hb_digest(md5, 1, data) == hmac.new(key, data, hashlib.md5).hexdigest()
    assert wire.hb_digest(sha1, 1, data) == hmac.new(key, data, hashlib.sha1).hexdigest()


def test_crc_is_crc32_posix_printed_without_leading_zeros() -> None:
    assert wire.hb_digest(CRC, 3, b"123456789") == "765e7680"  # the CRC-32/POSIX check value
    assert wire.hb_digest(CRC, 3, b"") == "ffffffff"
    short = next(f"{i}".encode() for i in range(10**6)
                 if len(wire.hb_digest(CRC, 3, f"{i}".encode())) < 8)
    assert not wire.hb_digest(CRC, 3, short).startswith("0")


def test_sha256_is_not_a_heartbeat_method() -> None:
    with pytest.raises(ValueError, match="md5, sha1 or crc"):
        wire.hb_digest(SHA256, 4, b"x")
    with pytest.raises(ValueError, match="md5, sha1 or crc"):
        wire.hb_encode_classic(STATUS, SHA256)


# -- rejections: one per check ---------------------------------------------------------------

NS = wire.hb_encode_netstring(STATUS, MD5)
CL = wire.hb_encode_classic(STATUS, MD5)


def resign(body: bytes, ring: wire.Keyring = MD5, slot: int = 1) -> bytes:
    """A netstring body ("###\\n" .. "%%%\\n") with a correct trailer."""
    trailer = f"{slot} {wire.hb_digest(ring, slot, body)}".encode()
    return body + str(len(trailer)).encode() + b":" + trailer + b","


def body(*payloads: bytes) -> bytes:
    """The payloads as netstrings between the start and end markers."""
    return b"###\n" + b"".join(b"%d:%s," % (len(p), p) for p in payloads) + b"%%%\n"


def classic(lines: bytes, ring: wire.Keyring = MD5, slot: int = 1) -> bytes:
    """A classic message of these lines (each ending in "\\n") with a correct auth line."""
    return b">>>\n" + lines + f"auth={slot} {wire.hb_digest(ring, slot, lines)}\n<<<\n".encode()


@pytest.mark.parametrize(("data", "why"), [
    (b"###\n" + b"x" * wire.HB_MAX_MSG, "oversize"),
    (b"", "magic"), (b"##", "magic"), (b"TB\x01\x01" + NS, "magic"), (b"<<<\n", "magic"),
    (NS.replace(b"11:(0)t=status", b"011:(0)t=status"), "syntax"),  # leading zero
    (NS.replace(b"11:(0)t=status,", b"11:(0)t=status;"), "syntax"),  # no comma
    (NS.replace(b"11:(0)t=status,", b"12:(0)t=status,"), "syntax"),  # length off by one
    (NS.replace(b"%%%\n", b"%%%"), "syntax"),
    (NS + b"\x00", "syntax"),  # bytes after the trailer
    (NS[: NS.rindex(b"%%%\n") + 4], "syntax"),  # no trailer
    (resign(body()), "syntax"),  # no fields
    (resign(body(b"(0)tst")), "syntax"),  # no "="
    (resign(body(b"0)t=s")), "syntax"),  # too short for "(t)"
    (NS.replace(NS[NS.rindex(b"%%%\n") + 4 :], b"3:1 X,"), "syntax"),  # upper-case hex
    (NS.replace(NS[NS.rindex(b"%%%\n") + 4 :], b"4:01 a,"), "syntax"),  # leading zero slot
    (resign(body(b"(2)t=sx")), "field"),  # a struct
    (resign(body(b"(0)t=")), "field"),  # empty value
    (resign(body(b"(0)=ab")), "field"),  # empty name
    (resign(body(b"(0)t=a\x00")), "field"),  # NUL in a string
    (resign(body(b"(0)a b=cd")), "field"),  # space in a name
    (resign(body(*[b"(0)ab=c"] * 65)), "field"),  # 65 fields
    (resign(body(b"(0)auth=1 a", b"(0)auth=1 a")), "field"),  # two auth fields
    (resign(body(b"(1)auth=1 a")), "field"),  # a binary auth field
    (CL.replace(b"<<<\n", b"<<<"), "syntax"), (CL + b"x", "syntax"),
    (b">>>\nt=status\n<<<\n", "syntax"),  # no auth
    (CL.replace(b"auth=1 ", b"auth=1  "), "syntax"),
    (classic(b"t=st\ratus\n"), "field"), (classic(b"t=st\x00atus\n"), "field"),
    (classic(b"(0)t=status\n"), "field"),  # "(0)" is heartbeat's "wrong type" here
    (classic(b"(1)u=AAE\n"), "field"), (classic(b"(1)u=AAF=\n"), "field"),  # base64
    (classic(b"status\n"), "field"), (classic(b"t=\n"), "field"),
    (NS.replace(b":1 ", b":7 "), "key"), (CL.replace(b"auth=1 ", b"auth=15 "), "key"),
    (CL.replace(b"auth=1 ", b"auth=16 "), "key"),
    (NS.replace(b"st=active", b"st=activf"), "mac"), (CL.replace(b"calc", b"cald"), "mac"),
])
def test_each_rejection_reason(data: bytes, why: str) -> None:
    assert reason(data) == why


def test_a_slot_heartbeat_cannot_have_is_a_key_rejection() -> None:
    ring = wire.Keyring({1: ("md5", b"hb-lab-secret"), 4: ("sha256", b"s")}, 1)
    assert reason(CL.replace(b"auth=1 ", b"auth=4 "), ring) == "key"


def test_blank_lines_are_skipped_as_heartbeat_does_and_not_covered() -> None:
    loose = CL.replace(b"\nst=", b"\n\n\nst=").replace(b">>>\n", b">>>\n\n")
    assert wire.hb_decode_untrusted(loose, MD5).fields == wire.hb_decode_untrusted(CL, MD5).fields


def test_every_form_and_method_verifies() -> None:
    for ring in (MD5, SHA1, CRC):
        for data in (wire.hb_encode_netstring(STATUS, ring), wire.hb_encode_classic(STATUS, ring)):
            msg = wire.hb_decode_untrusted(data, ring)
            assert msg.key_index == ring.active
            assert [f for f in msg.fields if f.name != b"auth"] == STATUS


def test_message_lookup_is_heartbeats_first_match() -> None:
    msg = wire.hb_decode_untrusted(
        wire.hb_encode_classic([F(b"x", b"1"), F(b"x", b"2")], MD5), MD5)
    assert msg.get(b"x") == b"1" and msg.get(b"y") is None


# -- encoding ------------------------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    [], [F(b"t", b"")], [F(b"", b"x")], [F(b"a b", b"x")], [F(b"a=b", b"x")],
    [F(b"(1)x", b"y")], [F(b"x" * 65, b"y")], [F(b"t", b"a\x00b")], [F(b"t", b"a\rb")],
    [F(b"t", b"a\x13b")], [F(b"auth", b"x"), F(b"auth", b"y")], [F(b"auth", b"x", True)],
    [F(b"f%d" % i, b"v") for i in range(65)], [F(b"big", b"v" * wire.HB_MAX_MSG)],
    [F(b"big", b"v" * (wire.HB_MAX_MSG - 100)), F(b"more", b"w" * 90)],
])
def test_fields_heartbeat_cannot_carry_are_refused(fields: list[wire.HbField]) -> None:
    with pytest.raises(ValueError):
        wire.hb_encode_netstring(fields, MD5)
    with pytest.raises(ValueError):
        wire.hb_encode_classic(fields, MD5)


def test_the_auth_field_is_set_in_place_or_appended() -> None:
    with_auth = [F(b"t", b"x"), F(b"auth", b"placeholder"), F(b"u", b"y")]
    msg = wire.hb_decode_untrusted(wire.hb_encode_classic(with_auth, MD5), MD5)
    assert [f.name for f in msg.fields] == [b"t", b"auth", b"u"]
    appended = wire.hb_decode_untrusted(wire.hb_encode_classic([with_auth[0], with_auth[2]],
                                                               MD5), MD5)
    assert msg.get(b"auth") == appended.get(b"auth")  # the same digest, wherever it sits
    ns = wire.hb_decode_untrusted(wire.hb_encode_netstring(with_auth, MD5), MD5)
    assert [f.name for f in ns.fields] == [b"t", b"auth", b"u"]
    assert ns.get(b"auth") == msg.get(b"auth")  # the inner field is the classic digest
    bare = wire.hb_encode_netstring(STATUS, MD5, inner_auth=False)
    assert b"auth=" not in bare
    assert list(wire.hb_decode_untrusted(bare, MD5).fields) == STATUS


def test_a_two_digit_slot_signs_and_verifies() -> None:
    ring = wire.Keyring({12: ("sha1", b"k")}, 12)
    for data in (wire.hb_encode_netstring(STATUS, ring), wire.hb_encode_classic(STATUS, ring)):
        assert b"12 " in data and wire.hb_decode_untrusted(data, ring).key_index == 12


_NAME_BYTES = [b for b in range(0x21, 0x7F) if b not in b"=("]
_NAME = st.lists(st.sampled_from(_NAME_BYTES), min_size=1, max_size=64).map(bytes).filter(
    lambda n: n != b"auth")
_STRING = st.lists(st.sampled_from([b for b in range(1, 256) if b not in b"\r\x13"]),
                   min_size=1, max_size=80).map(bytes)
_FIELD = st.one_of(st.builds(F, _NAME, _STRING, st.just(False)),
                   st.builds(F, _NAME, st.binary(min_size=1, max_size=40), st.just(True)))


@settings(max_examples=300)
@given(st.lists(_FIELD, min_size=1, max_size=20), st.sampled_from([MD5, SHA1, CRC]))
def test_decode_inverts_encode(fields: list[wire.HbField], ring: wire.Keyring) -> None:
    for data in (wire.hb_encode_netstring(fields, ring), wire.hb_encode_classic(fields, ring)):
        msg = wire.hb_decode_untrusted(data, ring)
        assert list(msg.fields[:-1]) == fields and msg.fields[-1].name == b"auth"
    bare = wire.hb_encode_netstring(fields, ring, inner_auth=False)
    assert list(wire.hb_decode_untrusted(bare, ring).fields) == fields
