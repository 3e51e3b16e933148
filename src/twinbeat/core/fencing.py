"""Fencing (STONITH): when this node fences its peer, and that it takes nothing over before.

Owns: `Fencing`: the peer's fence state (`states.FenceState`, moved only by `fence_step`),
the attempts made for the current death of the peer, the head-start and backoff timer, the
history of outcomes, and `head_start` (which node fences first). node.py feeds it
membership's notices (`PeerDied`, `PeerReturned`), the fence events (`PeerFenced`,
`FenceFailed`, `FenceAcknowledged`) and, once settled, whether this node may fence now;
groups.py asks `takeover_ok` (through `Situation`) before it starts a group while the peer
is dead. Must not import groups.py, membership's state, node.py, or anything doing I/O.

Why. The link quorum proves the peer *silent*, not *stopped*. With both cables cut it is
alive, and takes our groups over as we take over its own; a hung peer (a stuck kernel, a long
SIGSTOP) still runs its groups and writes to the shared disk when it wakes. Only a fence
proves it stopped. heartbeat v1 answered with STONITH; so does twinbeat when `Params.fencing`
is on (with it off, nothing here acts and the core behaves as it always did):

- **No takeover without a confirmed fence.** While the peer is dead a group starts here only
  in state `idle` (it left gracefully) or `fenced` (the device confirmed it, or an
  administrator did: `twinbeat fence-ack`). Claims are still advertised; StartGroup waits.
- **When a fence runs.** The peer was heard in this run, is declared dead (every link silent:
  the link quorum) and did not leave gracefully. Every such death is fenced, even when this
  node already holds every group: with both cables cut the peer goes for what we hold, and
  fences us unless we fence it first. Attempts are made only while this node is ACTIVE and
  not isolated (ping): an isolated node must not shoot the peer that can still serve.
- **Graceful departure.** A peer whose last frame said LEAVING or GONE, showing no group
  claimed, held, stopping or critical (in our configuration: a mismatched peer's groups are
  unknown), is not fenced: it has released everything and never starts anything again. A
  leaving peer that went silent in the middle of a stop is fenced; so is one that left a
  failed stop behind (GONE, critical).
- **Start-up.** A peer not heard in this run (initdead over) is never fenced, and nothing is
  taken over from it until it is heard, or an administrator confirms it down. This node may
  have just been fenced by that peer, which then holds the groups behind cut cables: taking
  them would be a split brain, fencing it back a fence loop (heartbeat's "STONITH
  deathmatch", each round an outage). The state dir's record of the peer cannot tell the two
  apart — the node the peer just fenced has one. corosync's `two_node` + `wait_for_all`
  make the same choice; the price is that a node booting alone waits for `fence-ack`.
- **The head start.** Both nodes of a cut pair race to fence each other. The preferred node
  fences at once, the other waits `fence_delay` first (Pacemaker's `pcmk_delay_base`).
  Preferred: the node busy with the first haresources group (claiming, starting, holding or
  stopping it, as this node last knew both states); if both or neither are, that group's
  primary. In the steady state that is the node serving the first line — its primary with
  auto_failback on — which therefore survives without an outage. Each node judges from what
  it last knew; they differ only if that group was changing hands at the moment of the cut,
  and then both may fence at once, which costs availability, never safety.
- **Retries.** A failed attempt is retried after 0.5·deadtime·2^(n-1), at most 4·deadtime,
  for as long as the peer stays dead; the status stays degraded meanwhile.
- **The peer comes back** (a fresh frame). While no attempt is outstanding (head start,
  backoff, unseen) the fence is cancelled. An attempt in flight cannot be recalled: its result is
  awaited. A success means the peer was reset: membership declares it dead at once and no
  frame it sent before can revive it (it returns as a new incarnation); a failure is not
  retried while it lives.
- **A paused node** (pause.py: fed nothing for over STALL keepalives, this node was the one
  stopped). The pause does not count as the peer's silence, but a pause long enough may
  leave the peer dead on waking all the same. Then this node waits STALL keepalives from
  waking before its first attempt: time for the backlog and one round trip to show the peer
  alive, so that a node waking from a hang does not shoot the healthy peer.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence

from .errors import CoreMisuse
from .events import Action, FenceAcknowledged, FenceFailed, FencePeer, Log, PeerFenced
from .notices import PeerDied
from .params import Params
from .pause import Pauses
from .snapshot import FenceRecord, FenceSnapshot
from .states import (
    BUSY,
    FENCE_OUTSTANDING,
    FENCE_PENDING,
    FenceState,
    FenceTrigger,
    decode_group,
    fence_step,
    fence_step_allowed,
)

RETRY_BASE = 0.5  # x deadtime: the wait after the first failed attempt, doubling after each
RETRY_CAP = 4.0  # x deadtime
HISTORY = 8  # outcomes kept for the status

FenceEvent = PeerFenced | FenceFailed | FenceAcknowledged


def head_start(params: Params, mine: bytes, theirs_busy: Sequence[int]) -> str:
    """The node that fences at once when both may race (the module docstring's rule).

    `mine` is this node's advertised group bytes, `theirs_busy` the groups the peer showed
    busy when it was last heard."""
    peer = params.peer or ""
    if not params.groups:
        return min(params.node, peer)
    me_busy = bool(mine) and decode_group(mine[0])[0] in BUSY
    peer_busy = 0 in theirs_busy
    if me_busy != peer_busy:
        return params.node if me_busy else peer
    return params.groups[0].primary


class Fencing:
    """The peer's fence state. See the module docstring."""

    def __init__(self, params: Params, now: float, pauses: Pauses) -> None:
        self._p = params
        self.enabled = params.fencing and params.peer is not None
        self.configured = self.enabled  # fencing was on at some time in this run
        self.peer = params.peer or ""
        self.state = FenceState.IDLE
        self.since = now
        self.attempts = 0
        self.next_at: float | None = None  # the head start or the backoff ends
        self.preferred: str | None = None  # who has the head start for this death
        self.history: deque[FenceRecord] = deque(maxlen=HISTORY)
        # Since start-up, for the metrics: FencePeer issued, and outcomes by result.
        self.attempts_total = 0
        self.results: Counter[str] = Counter()
        self._blocked = False  # an attempt is due but this node may not fence now
        self._pauses = pauses  # this node's own (node.py feeds them)

    # ------------------------------------------------------------------ queries

    def takeover_ok(self) -> bool:
        """May a group start here while the peer is dead? (The gate of groups.py.)"""
        return not self.enabled or self.state in (FenceState.IDLE, FenceState.FENCED)

    def deadline(self) -> float | None:
        """When the head start or the backoff ends (None while blocked: the next event that
        lets this node fence resumes it, and heartbeats bring one every keepalive)."""
        return None if self._blocked else self.next_at

    def check(self, ev: FenceEvent) -> None:
        """`CoreMisuse` unless fencing is configured (or was, before a reload: a late result
        is ignored) and `ev` is about the peer."""
        if not self.configured:
            raise CoreMisuse(f"{type(ev).__name__} without fencing configured")
        if ev.peer != self.peer:
            raise CoreMisuse(f"{type(ev).__name__} for {ev.peer!r}, which is not the peer")

    def reconfigure(self, params: Params, now: float, out: list[Action]) -> None:
        """A reload: the new delay and timers from now on. Fencing dropped: nothing waits for
        a fence any more (reconfigure.py refuses it while an attempt is under way)."""
        was = self.enabled
        self._p = params
        self.enabled = params.fencing and params.peer is not None
        self.configured = self.configured or self.enabled
        if was and not self.enabled:
            if self.state is not FenceState.IDLE:
                self._record(now, "cancelled", "fencing removed by a reload")
                out.append(Log("warning", f"Fencing removed by the reload: no longer waiting "
                                          f"for STONITH of node {self.peer}"))
            self.state, self.since, self.next_at = FenceState.IDLE, now, None

    # ------------------------------------------------------------------ what befell the peer

    def peer_died(self, died: PeerDied, mine: bytes, now: float, out: list[Action]) -> None:
        """The link quorum declared the peer dead: start a fence, or say why not."""
        if not self.enabled or self.state is not FenceState.IDLE:
            return  # fenced (this death is the fence's own), or an attempt decides
        peer = self.peer
        if not died.was_alive:
            self._set(FenceTrigger.UNSEEN, now)
            out.append(Log("warning", f"node {peer}: not heard since start-up: not fencing "
                                      "it, and not taking over from it until it is heard or "
                                      f"`twinbeat fence-ack {peer}` confirms it is down"))
            return
        if died.left:
            out.append(Log("info", f"node {peer} left gracefully: no STONITH needed"))
            return
        self.attempts = 0
        self.preferred = head_start(self._p, mine, died.busy)
        delay = 0.0 if self.preferred == self._p.node else self._p.fence_delay
        self.next_at = now + delay
        grace_end = self._pauses.just_resumed(now)
        if grace_end is not None:
            self.next_at = max(self.next_at, grace_end)
            out.append(Log("warning", "This node was paused: giving node "
                                      f"{peer} a moment to show itself before fencing it"))
        self._set(FenceTrigger.DIED, now)
        if delay:
            out.append(Log("info", f"STONITH of node {peer} in {delay:g}s: "
                                   f"{self.preferred} has the head start"))

    def peer_returned(self, now: float, out: list[Action]) -> None:
        """The peer was heard again: cancel what has not been started."""
        if not self.enabled:
            return
        if self.state in FENCE_OUTSTANDING:
            out.append(Log("warning", f"node {self.peer} is back while STONITH of it is under "
                                      "way: the attempt cannot be recalled"))
            return
        if not fence_step_allowed(self.state, FenceTrigger.RETURNED):
            return  # idle
        if self.state in (FenceState.WAITING, FenceState.FAILED):
            self._record(now, "cancelled", None)
            out.append(Log("info", f"node {self.peer} is back: STONITH cancelled"))
        self.next_at = None
        self._set(FenceTrigger.RETURNED, now)

    # ------------------------------------------------------------------ settling

    def step(self, now: float, may_fence: bool, out: list[Action]) -> None:
        """Once settled: when the head start or the backoff is over, fence (if allowed)."""
        self._blocked = False
        if self.next_at is None or now < self.next_at:
            return
        if not may_fence:
            self._blocked = True
            return
        self.next_at = None
        self.attempts += 1
        self.attempts_total += 1
        self._set(FenceTrigger.DUE, now)
        attempt = "" if self.attempts == 1 else f" (attempt {self.attempts})"
        out.append(Log("warning", f"Initiating STONITH of node {self.peer}{attempt}"))
        out.append(FencePeer(self.peer))

    # ------------------------------------------------------------------ fence events

    def on_event(self, ev: FenceEvent, now: float, alive: bool, out: list[Action]) -> bool:
        """Apply a fence event; True when the peer is now known down (node.py then has
        membership treat it as reset: `Membership.fenced`). `alive`: the peer is alive."""
        if not self.enabled:
            out.append(Log("info", f"{type(ev).__name__} for node {self.peer} ignored: fencing "
                                   "is no longer configured"))
            return False
        match ev:
            case PeerFenced():
                return self._confirmed(now, out)
            case FenceFailed(reason=reason):
                self._failed(reason, now, alive, out)
                return False
            case FenceAcknowledged():
                return self._acknowledged(now, alive, out)

    def _confirmed(self, now: float, out: list[Action]) -> bool:
        if self.state not in FENCE_OUTSTANDING:
            out.append(Log("info", f"Stale STONITH result ignored: node {self.peer} reported "
                                   "reset, but no STONITH of it is outstanding"))
            return False
        self._record(now, "fenced", None)
        self._set(FenceTrigger.CONFIRMED, now)
        out.append(Log("info", f"node {self.peer} now reset"))
        return True

    def _failed(self, reason: str, now: float, alive: bool, out: list[Action]) -> None:
        if self.state not in FENCE_OUTSTANDING:
            out.append(Log("info", f"Stale STONITH result ignored: STONITH of node {self.peer} "
                                   f"failed ({reason}), but none is outstanding"))
            return
        self._record(now, "failed", reason)
        out.append(Log("error", f"STONITH of node {self.peer} failed: {reason}"))
        if alive:
            self._set(FenceTrigger.MOOT, now)
            out.append(Log("info", f"node {self.peer} is alive: STONITH not retried"))
            return
        factor = min(RETRY_BASE * 2 ** (self.attempts - 1), RETRY_CAP)
        wait = factor * self._p.deadtime
        self.next_at = now + wait
        self._set(FenceTrigger.REFUSED, now)
        out.append(Log("warning", f"Not taking over from node {self.peer}: STONITH retried in "
                                f"{wait:g}s (or confirm it down: twinbeat fence-ack {self.peer})"))

    def _acknowledged(self, now: float, alive: bool, out: list[Action]) -> bool:
        peer = self.peer
        if alive:
            out.append(Log("warning", f"fence-ack {peer} ignored: node {peer} is alive"))
            return False
        if self.state is FenceState.FENCED:
            out.append(Log("info", f"fence-ack {peer}: node {peer} is already confirmed down"))
            return False
        self._record(now, "acknowledged", None)
        self.next_at = None
        self._set(FenceTrigger.ACKNOWLEDGED, now)
        out.append(Log("warning", f"node {peer} confirmed down by an administrator "
                                  "(fence-ack): taking over from it"))
        return True

    # ------------------------------------------------------------------ status

    def snapshot(self) -> FenceSnapshot | None:
        if not self.enabled:
            return None
        degraded = self.state in FENCE_PENDING
        return FenceSnapshot(
            state=self.state.value,
            peer=self.peer,
            attempts=self.attempts,
            last_result=self.history[-1].result if self.history else None,
            since=self.since,
            next_attempt=self.next_at,
            degraded=degraded,
            reason=self.reason() if degraded else None,
            history=tuple(self.history),
            attempts_total=self.attempts_total,
            results=dict(self.results),
        )

    def reason(self) -> str | None:
        """Why no group is taken over from the dead peer, in words (None: nothing waits)."""
        peer, state = self.peer, self.state
        ack = f"or `twinbeat fence-ack {peer}`"
        if state is FenceState.UNSEEN:
            return f"node {peer} not heard since start-up: its groups wait for it, {ack}"
        if state is FenceState.WAITING:
            if self._blocked:
                return f"node {peer} is dead; this node may not fence it now (isolated?)"
            return f"node {peer} is dead: STONITH after the head start ({self.preferred}'s)"
        if state in FENCE_OUTSTANDING:
            return f"STONITH of node {peer} under way (attempt {self.attempts})"
        if state is FenceState.FAILED:
            why = self.history[-1].reason if self.history else None
            return f"STONITH of node {peer} failed ({why}); retrying, {ack}"
        return None

    def status(self) -> str | None:
        """A few words for sd_notify's status line while degraded."""
        if not self.enabled or self.state not in FENCE_PENDING:
            return None
        n = self.attempts
        return f"STONITH of {self.peer}: {self.state.value} ({n} attempt{'' if n == 1 else 's'})"

    # ------------------------------------------------------------------ internals

    def _set(self, trigger: FenceTrigger, now: float) -> None:
        state = fence_step(self.state, trigger)
        if state is not self.state:
            self.state = state
            self.since = now

    def _record(self, now: float, result: str, reason: str | None) -> None:
        self.history.append(FenceRecord(at=now, result=result, reason=reason))
        self.results[result] += 1
