"""COBS framing and the serial Deframer: chunking, resync after garbage, bounded memory."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import reference_codec as ref
from twinbeat import wire

frames_st = st.lists(st.binary(min_size=1, max_size=wire.MAX_FRAME), max_size=12)


def feed_in_pieces(deframer: wire.Deframer, stream: bytes, cuts: list[int]) -> list[bytes]:
    out: list[bytes] = []
    last = 0
    for cut in [*sorted(c % (len(stream) + 1) for c in cuts), len(stream)]:
        out += deframer.feed(stream[last:cut])
        last = cut
    return out


@settings(max_examples=300)
@given(frames_st, st.lists(st.integers(0, 10_000), max_size=20))
def test_every_chunking_yields_the_same_frames(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(wire.cobs_frame(f) for f in frames)
    deframer = wire.Deframer()
    assert feed_in_pieces(deframer, stream, cuts) == frames
    assert deframer.stats == wire.DeframerStats(frames=len(frames))


def is_subsequence(needles: list[bytes], haystack: list[bytes]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.binary(max_size=40), st.binary(min_size=1, max_size=200)),
                max_size=10),
       st.lists(st.integers(0, 10_000), max_size=10))
def test_garbage_costs_at_most_the_frames_it_touches(
    pairs: list[tuple[bytes, bytes]], cuts: list[int]
) -> None:
    """Garbage before a frame may spoil that frame (if no 0x00 separates them), no other."""
    stream = b"".join(garbage + wire.cobs_frame(frame) for garbage, frame in pairs)
    untouched = [f for g, f in pairs if not g or g.endswith(b"\x00")]
    got = feed_in_pieces(wire.Deframer(), stream, cuts)
    assert is_subsequence(untouched, got)


@settings(max_examples=300)
@given(st.lists(st.one_of(
    st.binary(max_size=300),
    st.binary(min_size=1, max_size=wire.MAX_FRAME).map(wire.cobs_frame),
    st.just(b"\xff" * 300),
), max_size=10), st.lists(st.integers(0, 10_000), max_size=10))
def test_deframer_matches_the_reference(parts: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(parts)
    ours, theirs = wire.Deframer(), ref.RefDeframer()
    assert feed_in_pieces(ours, stream, cuts) == theirs.feed(stream)
    assert (ours.stats.frames, ours.stats.dropped_garbage, ours.stats.dropped_oversize) == (
        theirs.frames, theirs.dropped_garbage, theirs.dropped_oversize)


def test_oversize_run_is_discarded_and_the_next_frame_survives() -> None:
    deframer = wire.Deframer()
    frame = bytes(range(1, 60))
    for _ in range(1000):  # 1 MB without a delimiter: nothing is kept
        assert deframer.feed(b"\x07" * 1000) == []
    assert deframer.feed(b"\x00" + wire.cobs_frame(frame)) == [frame]
    assert deframer.stats == wire.DeframerStats(frames=1, dropped_oversize=1)


def test_largest_frame_passes_and_one_byte_more_is_dropped() -> None:
    biggest = b"\x01" * wire.MAX_FRAME
    encoded = wire.cobs_frame(biggest)
    assert len(encoded) == wire.MAX_FRAME + 3  # two code bytes and the delimiter
    deframer = wire.Deframer()
    assert deframer.feed(encoded) == [biggest]
    too_big = b"\x01" * 254 + b"\xff" + b"\x01" * 254 + b"\x00"  # 508 bytes of COBS
    assert deframer.feed(too_big + encoded) == [biggest]
    assert deframer.stats.dropped_oversize == 1


def test_idle_delimiters_are_not_errors_but_bad_cobs_is_garbage() -> None:
    deframer = wire.Deframer()
    assert deframer.feed(b"\x00\x00\x00") == []
    assert deframer.feed(b"\x05ab\x00") == []  # code byte points past the end
    assert deframer.feed(b"\x01\x00") == []  # an empty frame
    assert deframer.stats == wire.DeframerStats(dropped_garbage=2)


def test_cobs_frame_refuses_more_than_max_frame() -> None:
    try:
        wire.cobs_frame(bytes(wire.MAX_FRAME + 1))
    except ValueError:
        pass
    else:
        raise AssertionError("cobs_frame accepted an oversize frame")


def test_a_serial_round_trip_of_status_frames() -> None:
    ring = wire.Keyring({1: ("sha1", b"serial")}, 1)
    sent = [
        wire.encode(ring, sender="calc", fingerprint=9, generation=1, sequence=seq,
                    timestamp_ms=seq * 1000, echo_ms=0, echo_delay_ms=0, link_id=0x80,
                    node_state=2, node_flags=0, groups=b"\x00\x02")
        for seq in range(50)
    ]
    framed = b"".join(wire.cobs_frame(f) for f in sent)
    # Noise ended by a 0x00 (a sender's flush) costs nothing.
    got = wire.Deframer().feed(b"\x00noise\x00" + framed)
    assert [wire.decode_untrusted(f, ring).sequence for f in got] == list(range(50))
    # Noise glued to a frame spoils exactly that frame (here as bad COBS); the rest arrive.
    deframer = wire.Deframer()
    got = deframer.feed(b"noise" + framed)
    assert [wire.decode_untrusted(f, ring).sequence for f in got] == list(range(1, 50))
    assert deframer.stats.dropped_garbage == 1
