"""Sequence numbers: serial-number arithmetic on the wire's u32 and the replay window.

Owns: `classify`, which says what a frame of the peer's current incarnation is, from its
sequence number and timestamp, against the newest frame applied (`Newest`) and the frames
each link has carried (`Seen`). membership.py decides what each verdict does.

The sender counts 1, 2, ... 2^32 - 1, 1, 2, ... (0 is never sent) and keeps going across
the wrap, so comparisons are RFC 1982 serial-number arithmetic (SERIAL_BITS = 32): `a` is
after `b` when (a - b) mod 2^32 is in 1 .. 2^31 - 1. A plain `<` turned every frame after
the wrap into a replay (issue #11 item 7). Serial arithmetic cannot tell a frame from one
sent 2^32 frames earlier in the same generation (497 days at the 10 ms keepalive floor);
replays that old are the one case it leaves to the echo rule (docs/core.md, Freshness).

Within one incarnation the timestamp never goes backwards as the sequence goes forwards,
and the same sequence always carries the same timestamp (one heartbeat, one frame per
link). A frame that breaks either is not of the incarnation being followed (FOREIGN): the
peer restarted with the same generation, or it is a replay of an older incarnation.
Must import nothing but states.py (and nothing doing I/O).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .states import U32, ts_after

SERIAL_HALF = 1 << 31
# How far behind the newest applied sequence a frame may be and still be judged (reordered
# or a copy on a slower link); anything older is a replay. Each link keeps the sequences
# (with their timestamps) it carried within this window.
SEQ_WINDOW = 1024

Seen = Mapping[int, int]  # sequence -> timestamp_ms, for the frames one link carried


class SeqVerdict(enum.Enum):
    NEW = "new"  # after everything applied: apply it
    COPY = "copy"  # the same heartbeat, already received on another link
    STALE = "stale"  # older than what was applied, never received: reordered
    REPLAY = "replay"  # already received on this link, or sequence 0
    FAR = "far"  # more than SEQ_WINDOW behind the newest: a replay, or a sequence restart
    FOREIGN = "foreign"  # contradicts the incarnation's own frames (see the module docstring)


@dataclass(frozen=True)
class Newest:
    """The newest frame applied from the peer's current incarnation."""

    seq: int
    ts: int
    echo: int | None = None  # the timestamp of ours it echoed (freshness.py, `same_clock`)


def serial_after(a: int, b: int) -> bool:
    """RFC 1982 on u32: is sequence `a` after `b`?"""
    return 0 < (a - b) & U32 < SERIAL_HALF


def behind(newest: int, seq: int) -> int:
    """How many sequence numbers `seq` lies behind `newest` (mod 2^32)."""
    return (newest - seq) & U32


def classify(seq: int, ts: int, newest: Newest | None, here: Seen,
             elsewhere: Iterable[Seen]) -> SeqVerdict:
    """The verdict on a frame of the current incarnation received on a link that has
    carried `here`, while the other links carried `elsewhere`."""
    if seq == 0:
        return SeqVerdict.REPLAY
    if newest is None:
        return SeqVerdict.NEW
    if serial_after(seq, newest.seq):
        return SeqVerdict.FOREIGN if ts_after(newest.ts, ts) else SeqVerdict.NEW
    if behind(newest.seq, seq) >= SEQ_WINDOW:
        return SeqVerdict.FAR
    return _within_window(seq, ts, newest, here, elsewhere)


def _within_window(seq: int, ts: int, newest: Newest, here: Seen,
                   elsewhere: Iterable[Seen]) -> SeqVerdict:
    """Not newer than what was applied, but within the window: which links carried it?
    (A frame older than the newest but with a later timestamp is of another incarnation.)"""
    if (known := here.get(seq)) is not None:
        return SeqVerdict.REPLAY if known == ts else SeqVerdict.FOREIGN
    for seen in elsewhere:
        if (known := seen.get(seq)) is not None:
            return SeqVerdict.COPY if known == ts else SeqVerdict.FOREIGN
    return SeqVerdict.FOREIGN if ts_after(ts, newest.ts) else SeqVerdict.STALE


def prune(seen: dict[int, int], newest: int) -> None:
    """Forget the sequences that fell out of the window (once the map has doubled)."""
    if len(seen) > 2 * SEQ_WINDOW:
        for seq in [s for s in seen if behind(newest, s) >= SEQ_WINDOW]:
            del seen[seq]
