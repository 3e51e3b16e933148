"""Golden vectors: every heartbeat message in the captures of a real heartbeat 3.0.6 pair.

For each run (md5, sha1, crc) every UDP datagram and every message of the serial line, in
both directions, is parsed, verified with the run's authkeys, and re-emitted from its parsed
fields byte for byte. Re-emitting recomputes both digests a netstring message carries (the
inner classic `auth` field and the trailer) and the classic message's auth line, so equal
bytes prove the coverage of each digest and the field order (docs/protocol.md §heartbeat
3.0.6 messages). The serial messages are cut out of the byte stream by the Deframer, fed
with the reads socat recorded. The pure-Python reference (tests/reference_hb.py) must agree
on every message.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

import hb_captures as cap
import reference_hb as ref
from twinbeat import wire

# Messages per capture, counted by hand from the files: (UDP datagrams, serial >, serial <).
EXPECTED = {"md5": (83, 44, 43), "sha1": (80, 44, 41), "crc": (84, 45, 42)}
NODES = {b"prime", b"calc"}


def ring(method: str) -> tuple[wire.Keyring, dict[int, tuple[str, bytes | None]], int]:
    keys, active = cap.authkeys(method)
    return wire.Keyring(keys, active), keys, active


def serial_messages(method: str) -> dict[str, list[bytes]]:
    found = {}
    for direction, chunks in cap.serial_streams(cap.CAPTURES / f"serial-{method}.dump").items():
        deframer = wire.Deframer()
        found[direction] = [m for chunk in chunks for m in deframer.feed(chunk)]
        assert deframer.stats == wire.DeframerStats(classic_messages=len(found[direction]))
    return found


def as_tuples(msg: wire.HbMessage) -> list[tuple[bytes, bytes, bool]]:
    return [tuple(f) for f in msg.fields]  # type: ignore[misc]


@pytest.mark.parametrize("method", cap.METHODS)
def test_every_udp_message_verifies_and_re_emits_byte_identical(method: str) -> None:
    keyring, keys, active = ring(method)
    datagrams = cap.pcap_datagrams(cap.CAPTURES / f"hb-{method}.pcap")
    assert len(datagrams) == EXPECTED[method][0]
    for d in datagrams:
        msg = wire.hb_decode_untrusted(d.payload, keyring)
        assert (msg.form, msg.key_index) == ("netstring", active)
        assert msg.get(b"src") in NODES and msg.get(b"auth") is not None  # msgfmt classic
        assert wire.hb_encode_netstring(msg.fields, keyring) == d.payload
        theirs = ref.decode(d.payload, keys)
        assert list(theirs.fields) == as_tuples(msg)
        assert ref.encode_netstring(as_tuples(msg), active, keys) == d.payload


@pytest.mark.parametrize("method", cap.METHODS)
def test_every_serial_message_verifies_and_re_emits_byte_identical(method: str) -> None:
    keyring, keys, active = ring(method)
    messages = serial_messages(method)
    assert (len(messages[">"]), len(messages["<"])) == EXPECTED[method][1:]
    for sent in messages.values():
        for data in sent:
            msg = wire.hb_decode_untrusted(data, keyring)
            assert (msg.form, msg.key_index) == ("classic", active)
            assert msg.fields[-1].name == b"auth"
            assert wire.hb_encode_classic(msg.fields, keyring) == data
            assert list(ref.decode(data, keys).fields) == as_tuples(msg)
            assert ref.encode_classic(as_tuples(msg), active, keys) == data


@pytest.mark.parametrize("method", cap.METHODS)
def test_the_same_message_crosses_both_media(method: str) -> None:
    """heartbeat sends every message on every medium: the serial copy is the netstring one
    parsed, re-signed in the classic form (reference §1.4), so the fields are the same."""
    keyring, _, _ = ring(method)
    udp = {wire.hb_decode_untrusted(d.payload, keyring).fields
           for d in cap.pcap_datagrams(cap.CAPTURES / f"hb-{method}.pcap")}
    serial = [wire.hb_decode_untrusted(m, keyring).fields
              for sent in serial_messages(method).values() for m in sent]
    assert sum(fields in udp for fields in serial) >= len(serial) * 3 // 4


def test_the_status_messages_look_as_the_reference_says() -> None:
    keyring, _, _ = ring("md5")
    kinds: Counter[bytes | None] = Counter()
    for d in cap.pcap_datagrams(cap.CAPTURES / "hb-md5.pcap"):
        msg = wire.hb_decode_untrusted(d.payload, keyring)
        kinds[msg.get(b"t")] += 1
        if msg.get(b"t") == b"status":
            names = [f.name for f in msg.fields]
            assert names[:3] == [b"t", b"st", b"dt"]
            assert names[-8:] == [b"src", b"srcuuid", b"seq", b"hg", b"ts", b"ld", b"ttl",
                                  b"auth"]
            assert msg.fields[names.index(b"srcuuid")].binary
            assert len(msg.get(b"srcuuid") or b"") == 16
            int(msg.get(b"hg") or b"", 16), int(msg.get(b"seq") or b"", 16)  # hex, parse
    assert kinds[b"status"] == 54 and {b"NS_ackmsg", b"resource", b"starting"} <= set(kinds)


@pytest.mark.parametrize("method", cap.METHODS)
def test_another_key_refuses_every_message(method: str) -> None:
    """Wrong secret (same slot, same method): every message is a `mac` rejection; crc has
    no key, so a crc run is checked against an md5 slot of the same number instead."""
    keys, active = cap.authkeys(method)
    other = ("md5", b"another-secret") if method == "crc" else (keys[active][0], b"another")
    keyring = wire.Keyring({active: other}, active)
    payloads = [d.payload for d in cap.pcap_datagrams(cap.CAPTURES / f"hb-{method}.pcap")]
    payloads += [m for sent in serial_messages(method).values() for m in sent]
    for data in payloads:
        with pytest.raises(wire.WireError) as info:
            wire.hb_decode_untrusted(data, keyring)
        assert info.value.reason == "mac"


@pytest.mark.parametrize("method", cap.METHODS)
def test_the_serial_stream_deframes_alike_whatever_the_reads(method: str) -> None:
    """The same messages come out whether the line is read byte by byte, in random pieces,
    or with twinbeat frames and idle 0x00 between the messages."""
    rng = random.Random(method)
    for direction, chunks in cap.serial_streams(cap.CAPTURES / f"serial-{method}.dump").items():
        stream = b"".join(chunks)
        expected = serial_messages(method)[direction]
        deframer = wire.Deframer()
        assert [m for b in stream for m in deframer.feed(bytes([b]))] == expected
        cuts = sorted(rng.sample(range(1, len(stream)), 40))
        pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        deframer = wire.Deframer()
        assert [m for p in pieces for m in deframer.feed(p)] == expected
        frame = bytes(range(1, 60))
        mixed = b"".join(wire.cobs_frame(frame) + b"\x00" + m for m in expected)
        out = wire.Deframer().feed(mixed)
        assert out == [x for m in expected for x in (frame, m)]
