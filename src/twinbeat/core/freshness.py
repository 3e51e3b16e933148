"""Freshness: what an authenticated frame of the peer is, and so what it may do.

Owns: `judge`, `Judgement` and the table `JUDGEMENTS` (docs/core.md, Freshness; the theory
of the rule is here, membership.py carries out the verdicts). Pure: must import nothing but
the core's value types (and nothing doing I/O).

A frame is **fresh** when it echoes a timestamp we sent in this run, less than the echo
window (2 deadtime) ago (`heartbeat.SentRange`): it was sent after the peer heard us, lately.
A frame that is not fresh proves nothing and changes nothing, however authentic: it may be a
recording of the peer, made before our restart or while we could not hear it. So:

- only fresh frames refresh a link, are applied, and give RTT or claim acks;
- to bring the peer to life (first contact, after it was declared dead) or to follow another
  of its incarnations (a higher generation: a restart; a lower one: a lost or restored state
  dir; the same one with its sequence numbers starting again), a fresh frame must also bring
  *news*: echo a timestamp newer than any echo accepted before in this run. Incarnations of
  one node follow each other in time, so a later one always echoes something newer than an
  earlier one did, and no recording of an earlier one can pass for the live one;
- what we echo on a link is, while the peer is not alive or that link is down, the
  timestamp of the last frame received on it, whatever it is (arrival order: one replay
  cannot pin it), so that a peer (or link) that lost our frames can prove itself again; an
  echo only orders the peer's frame before ours, which is all the claim rule needs. On an
  up link of a live peer, only accepted frames set it (their newest timestamp);
- a frame that is not fresh is counted: `replayed`, `stale` or `unechoed`.

Within one incarnation, a frame's own timestamp less the timestamp of ours it echoes stays
within one echo window of the same value (the origins of the two clocks differ by a constant;
a fresh echo was sent less than a window before the frame). Each run of the peer stamps from
a random origin, so a frame of an earlier run with the *same* generation (a lost state dir)
whose sequence and timestamp both happen to lie ahead of the newest applied is still told
apart: its offset is elsewhere (`same_clock`), and it is judged as another incarnation's,
which without news is a replay (found by the reload simulator, seed 2022).

The generation on disk (`Params.peer_generation`) only names the frames (a replay of an older
generation, a restart, a generation gone backwards); it never makes the peer alive.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from .events import FrameReceived
from .heartbeat import SentRange
from .sequences import Newest, Seen, SeqVerdict, classify
from .states import U32, ts_after

# How many echo windows two frames' clock offsets may differ by and be of one incarnation.
CLOCK_SLACK = 2


class Judgement(enum.Enum):
    """What an authenticated frame of the peer is, and so what it may do."""

    REPLAYED = "replayed"  # seen before, too old, of an older generation or incarnation
    UNECHOED = "unechoed"  # of a newer generation (a restart?), but proves nothing yet
    ECHO_ONLY = "echo-only"  # of the incarnation followed, not fresh: counted, echoed back
    STALE = "stale"  # reordered, older than what was applied: counted
    ADOPT = "adopt"  # fresh news from another incarnation: follow that one from now on
    REBASE = "rebase"  # fresh news, reordered, while the peer is not alive: start from it
    NEW = "new"  # fresh, the newest of the incarnation followed: applied
    COPY = "copy"  # fresh, the same heartbeat as one received on another link


# A frame of the incarnation followed, by its sequence verdict: (unproven, proven). Proven
# means fresh for a live peer's own frames, and fresh news (`judge`) for bringing the peer
# to life or switching incarnations. Unproven frames are counted by what they would be.
JUDGEMENTS: dict[SeqVerdict, tuple[Judgement, Judgement]] = {
    SeqVerdict.NEW: (Judgement.ECHO_ONLY, Judgement.NEW),
    SeqVerdict.COPY: (Judgement.ECHO_ONLY, Judgement.COPY),
    # Reordered: nothing to learn from it while the peer is alive; while it is not, a proven
    # one re-bases the sequences on it (the peer may have restarted, same generation).
    SeqVerdict.STALE: (Judgement.STALE, Judgement.REBASE),
    SeqVerdict.REPLAY: (Judgement.REPLAYED, Judgement.REPLAYED),
    # Far behind, or contradicting the incarnation's own frames: a replay of an older
    # incarnation, unless it is fresh news — then the peer restarted, same generation.
    SeqVerdict.FAR: (Judgement.REPLAYED, Judgement.ADOPT),
    SeqVerdict.FOREIGN: (Judgement.REPLAYED, Judgement.ADOPT),
}


@dataclass(frozen=True)
class Followed:
    """The incarnation of the peer being followed, as far as judging needs it."""

    generation: int | None  # None: none yet in this run
    known: int | None  # that, or else the generation on disk (names older ones "replays")
    alive: bool
    echo_floor: int | None  # the newest echo accepted in this run, whatever the incarnation
    newest: Newest | None  # the newest frame applied from it


def judge(ev: FrameReceived, sent: SentRange, followed: Followed, here: Seen,
          elsewhere: Sequence[Seen]) -> Judgement:
    """The judgement on `ev`, received on a link that carried `here` (the other links:
    `elsewhere`). See the module docstring."""
    fresh = sent.contains(ev.echo_ms)
    floor = followed.echo_floor
    # An echo older than the window is older than any fresh one: no wrap-around ambiguity.
    news = fresh and (floor is None or not sent.contains(floor) or ts_after(ev.echo_ms, floor))
    if ev.generation != followed.generation:
        if news:
            return Judgement.ADOPT
        older = followed.known is not None and ev.generation < followed.known
        return Judgement.REPLAYED if older else Judgement.UNECHOED
    verdict = classify(ev.sequence, ev.timestamp_ms, followed.newest, here, elsewhere)
    # Only a fresh frame is applied; an unfresh one stays ECHO_ONLY whatever its offset.
    if fresh and verdict is SeqVerdict.NEW and not same_clock(ev, followed.newest,
                                                              sent.window_ms):
        verdict = SeqVerdict.FOREIGN
    own = verdict in (SeqVerdict.NEW, SeqVerdict.COPY)
    judgement = JUDGEMENTS[verdict][fresh if own and followed.alive else news]
    if judgement is Judgement.REBASE and followed.alive:
        return Judgement.STALE  # nothing to learn from a reordered frame
    return judgement


def same_clock(ev: FrameReceived, newest: Newest | None, window_ms: int) -> bool:
    """Whether `ev` can come from the incarnation that sent `newest`: its timestamp less its
    echo within CLOCK_SLACK windows of `newest`'s (see the module docstring). The slack
    covers a reload that shrinks the window; a random origin passes by chance with odds of
    about 4 windows in 2^32 (2e-5 at deadtime 5 s)."""
    if newest is None or newest.echo is None:
        return True
    d = ((ev.timestamp_ms - ev.echo_ms) - (newest.ts - newest.echo)) & U32
    return min(d, -d & U32) <= CLOCK_SLACK * window_ms
