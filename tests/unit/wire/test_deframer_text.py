"""The serial reader with heartbeat's classic text beside COBS frames (docs/protocol.md §Serial
links): recognised, bounded, counted, and the same as the reference reader on any stream."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import reference_codec as ref
from twinbeat import wire

RING = wire.Keyring({1: ("md5", b"hb-lab-secret")}, 1)
TEXT = wire.hb_encode_classic([wire.HbField(b"t", b"status"), wire.HbField(b"src", b"calc")],
                              RING)
FRAME = bytes(range(1, 40))


def feed_in_pieces(deframer: wire.Deframer, stream: bytes, cuts: list[int]) -> list[bytes]:
    out: list[bytes] = []
    start = 0
    for cut in sorted(c % (len(stream) + 1) for c in cuts):
        out += deframer.feed(stream[start:cut])
        start = max(start, cut)
    return out + deframer.feed(stream[start:])


def stats(d: wire.Deframer) -> tuple[int, int, int, int]:
    s = d.stats
    return s.frames, s.classic_messages, s.dropped_garbage, s.dropped_oversize


def test_text_and_frames_interleaved_all_come_out_in_order() -> None:
    stream = TEXT + wire.cobs_frame(FRAME) + TEXT + b"\x00\x00" + TEXT + wire.cobs_frame(FRAME)
    deframer = wire.Deframer()
    assert deframer.feed(stream) == [TEXT, FRAME, TEXT, TEXT, FRAME]
    assert stats(deframer) == (2, 3, 0, 0)


def test_a_reader_opened_mid_message_loses_that_message_only() -> None:
    deframer = wire.Deframer()
    assert deframer.feed(TEXT[10:] + TEXT + TEXT) == [TEXT, TEXT]
    assert stats(deframer) == (0, 2, 1, 0)


def test_blank_lines_and_idle_delimiters_are_not_errors() -> None:
    deframer = wire.Deframer()
    assert deframer.feed(b"\n\n" + TEXT + b"\x00\n" + TEXT) == [TEXT, TEXT]
    assert stats(deframer) == (0, 2, 0, 0)


def test_only_exact_marker_lines_count() -> None:
    deframer = wire.Deframer()
    assert deframer.feed(b">>>>\n" + TEXT[4:]) == []  # ">>>>" is not the start line
    assert deframer.feed(b"x>>>\n") == []
    assert deframer.feed(TEXT.replace(b"<<<\n", b"<<<<\n") + TEXT) == [TEXT]
    assert stats(deframer) == (0, 1, 2, 0)  # the lines before it, the message cut short


def test_a_message_cut_by_a_delimiter_or_a_new_start_is_garbage() -> None:
    deframer = wire.Deframer()
    assert deframer.feed(TEXT[:30] + wire.cobs_frame(FRAME) + TEXT) == [TEXT]  # frame lost
    assert deframer.feed(TEXT[:30] + b"\x00" + wire.cobs_frame(FRAME)) == [FRAME]
    assert deframer.feed(TEXT[:30] + b"\n" + TEXT) == [TEXT]
    assert stats(deframer) == (1, 2, 3, 0)


def test_an_endless_message_is_skipped_unbuffered_and_the_next_one_survives() -> None:
    deframer = wire.Deframer()
    assert deframer.feed(b">>>\n") == []
    for _ in range(1000):  # 1 MB of lines without an end: nothing is kept past HB_MAX_MSG
        assert deframer.feed(b"x=" + b"y" * 997 + b"\n") == []
    assert deframer.feed(b"<<<\n" + TEXT) == [TEXT]
    assert stats(deframer) == (0, 1, 0, 1)


def test_the_longest_message_passes_and_one_byte_more_is_dropped() -> None:
    pad = wire.HB_MAX_MSG - len(TEXT) - len(b"p=\n")
    biggest = TEXT.replace(b"<<<\n", b"p=" + b"q" * pad + b"\n<<<\n")
    assert len(biggest) == wire.HB_MAX_MSG
    deframer = wire.Deframer()
    assert deframer.feed(biggest) == [biggest]
    too_big = biggest.replace(b"p=q", b"p=qq")
    assert deframer.feed(too_big + TEXT) == [TEXT]
    assert stats(deframer) == (0, 2, 0, 1)


def test_frames_right_after_text_and_text_right_after_frames() -> None:
    deframer = wire.Deframer()
    got = deframer.feed(wire.cobs_frame(FRAME) + TEXT + wire.cobs_frame(FRAME) + TEXT)
    assert got == [FRAME, TEXT, FRAME, TEXT] and stats(deframer)[2:] == (0, 0)


_PIECE = st.one_of(
    st.binary(max_size=60),
    st.sampled_from([b"\n", b">>>\n", b"<<<\n", b"\n>>>\n", b"\x00", b">>>", b"<<<"]),
    st.just(TEXT),
    st.binary(min_size=1, max_size=wire.MAX_FRAME).map(wire.cobs_frame),
    st.integers(0, 5000).map(lambda n: b"z" * n),
)


@settings(max_examples=500)
@given(st.lists(_PIECE, max_size=12), st.lists(st.integers(0, 20_000), max_size=10))
def test_the_reader_matches_the_reference(parts: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(parts)
    ours, theirs = wire.Deframer(), ref.RefDeframer()
    got = feed_in_pieces(ours, stream, cuts)
    assert got == theirs.feed(stream)
    assert stats(ours) == (theirs.frames, theirs.classic, theirs.dropped_garbage,
                           theirs.dropped_oversize)
    assert all(len(m) <= wire.HB_MAX_MSG for m in got)
