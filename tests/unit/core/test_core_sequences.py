"""sequences.py (RFC 1982 serial arithmetic, the replay window) and heartbeat.SentRange (which
of our timestamps a fresh echo may carry), step by step, including across both wraps."""

from __future__ import annotations

import pytest
from core_helpers import PARAMS, params

from twinbeat.core.heartbeat import Heartbeats, SentRange
from twinbeat.core.sequences import (
    SEQ_WINDOW,
    Newest,
    SeqVerdict,
    classify,
    prune,
    serial_after,
)
from twinbeat.core.states import Phase

U32 = 0xFFFFFFFF
HALF = 1 << 31


@pytest.mark.parametrize(("a", "b", "after"), [
    (2, 1, True), (1, 2, False), (5, 5, False),
    (1, U32, True), (3, U32 - 5, True), (U32, 1, False),  # across the wrap
    (HALF - 1 + 7, 7, True), (HALF + 7, 7, False),  # RFC 1982: the half is undefined: no
])
def test_serial_after(a: int, b: int, after: bool) -> None:
    assert serial_after(a, b) is after


def test_classify_in_order_copies_replays_and_reordering() -> None:
    newest = Newest(seq=10, ts=10_000)
    here = {9: 9_000, 10: 10_000}
    there = {10: 10_000, 8: 8_000}
    assert classify(11, 11_000, newest, here, [there]) is SeqVerdict.NEW
    assert classify(11, 10_000, newest, here, [there]) is SeqVerdict.NEW  # same ms: fine
    assert classify(10, 10_000, newest, here, [there]) is SeqVerdict.REPLAY
    assert classify(8, 8_000, newest, here, [there]) is SeqVerdict.COPY
    assert classify(7, 7_000, newest, here, [there]) is SeqVerdict.STALE
    assert classify(0, 1, newest, here, [there]) is SeqVerdict.REPLAY  # 0 is never sent
    assert classify(10 - SEQ_WINDOW, 1, newest, here, [there]) is SeqVerdict.FAR
    assert classify(5, 1, None, {}, []) is SeqVerdict.NEW  # nothing followed yet


def test_classify_frames_of_another_incarnation_with_the_same_generation() -> None:
    newest = Newest(seq=10, ts=10_000)
    here, there = {9: 9_000}, {8: 8_000}
    assert classify(9, 4_242, newest, here, [there]) is SeqVerdict.FOREIGN  # seq, other ts
    assert classify(8, 4_242, newest, here, [there]) is SeqVerdict.FOREIGN
    assert classify(11, 9_999, newest, here, [there]) is SeqVerdict.FOREIGN  # ts went back
    assert classify(7, 12_000, newest, here, [there]) is SeqVerdict.FOREIGN  # older, later ts


def test_classify_across_the_sequence_wrap() -> None:
    newest = Newest(seq=U32 - 1, ts=U32 - 100)  # the timestamps wrap too
    here = {U32 - 1: U32 - 100, U32 - 2: U32 - 1100}
    assert classify(U32, U32 - 50, newest, here, []) is SeqVerdict.NEW
    assert classify(1, 900, newest, here, []) is SeqVerdict.NEW  # 0 is skipped
    newest = Newest(seq=2, ts=1900)
    here = {1: 900, 2: 1900, U32: U32 - 50, U32 - 1: U32 - 100}
    assert classify(U32, U32 - 50, newest, here, []) is SeqVerdict.REPLAY
    assert classify(U32 - 3, U32 - 2000, newest, here, []) is SeqVerdict.STALE
    assert classify(3, 2900, newest, here, []) is SeqVerdict.NEW


def test_prune_keeps_the_window_only_once_the_map_doubled() -> None:
    seen = {s: s for s in range(1, 2 * SEQ_WINDOW + 1)}
    prune(seen, 2 * SEQ_WINDOW)
    assert len(seen) == 2 * SEQ_WINDOW  # not yet
    seen[2 * SEQ_WINDOW + 1] = 0
    prune(seen, 2 * SEQ_WINDOW + 1)
    assert min(seen) == SEQ_WINDOW + 2 and len(seen) == SEQ_WINDOW


# ------------------------------------------------------------------ SentRange


def sent_at(hb: Heartbeats, *times: float) -> None:
    for t in times:
        hb.send(Phase.ACTIVE, t, (2, 0, b""), ())


def test_an_echo_is_valid_from_our_first_timestamp_to_the_latest() -> None:
    hb = Heartbeats(PARAMS)
    assert hb.sent(0.0).contains(1) is False  # nothing sent yet
    sent_at(hb, 100.0, 102.0, 104.0)
    r = hb.sent(104.5)
    assert [r.contains(ts) for ts in (99_999, 100_000, 102_000, 104_000, 104_001, 0)] == [
        False, True, True, True, False, False]


def test_an_echo_older_than_the_window_is_not_fresh() -> None:
    hb = Heartbeats(PARAMS)  # deadtime 10: the window is 20 s
    sent_at(hb, *range(0, 40, 2))
    r = hb.sent(38.5)
    assert r.contains(38_000) and r.contains(20_000)
    assert r.contains(18_500) and not r.contains(18_499)  # 20 s before now: the edge
    assert not r.contains(18_000) and not r.contains(2_000)


def test_the_window_makes_weeks_of_uptime_unambiguous() -> None:
    """Item 8: the valid span never exceeds the window, so after 24.8 days (2^31 ms) of
    sending, fresh echoes are still recognised, and after 49.7 days too."""
    hb = Heartbeats(PARAMS)
    sent_at(hb, 1.0)
    for days in (24, 25, 30, 49, 50, 75):
        t = days * 86400.0
        sent_at(hb, t - 2.0, t)
        r = hb.sent(t + 0.1)
        assert r.contains(hb.stamp(t)) and r.contains(hb.stamp(t - 2.0)), days
        assert not r.contains(hb.stamp(1.0)), days  # our very first one is long gone


@pytest.mark.parametrize("origin", [0, 1, 0x7FFF_FFFF, U32 - 500, U32])
def test_the_timestamp_origin_shifts_every_timestamp_and_wraps(origin: int) -> None:
    hb = Heartbeats(params(timestamp_origin=origin))
    sent_at(hb, 0.2, 0.4, 0.6)
    assert hb.last_ts == (600 + origin) & U32 or 1
    r = hb.sent(0.7)
    assert r.contains(hb.stamp(0.2)) and r.contains(hb.stamp(0.6))
    assert not r.contains(hb.stamp(0.1)) and not r.contains((hb.stamp(0.6) + 1) & U32 or 1)
    assert r.now_ms == hb.stamp(0.7)


def test_the_first_sequence_number_and_the_wrap_past_zero() -> None:
    hb = Heartbeats(params(first_sequence=U32 - 1))
    seqs = [hb.send(Phase.ACTIVE, float(t), (2, 0, b""), ())[0] for t in range(4)]
    assert [s.sequence for s in seqs] == [U32 - 1, U32, 1, 2]  # type: ignore[union-attr]


def test_sent_range_with_explicit_fields() -> None:
    r = SentRange(last=5, span_ms=10, now_ms=20, window_ms=18)
    assert [r.contains(ts) for ts in (6, 5, 2, 1, U32)] == [False, True, True, False, False]
