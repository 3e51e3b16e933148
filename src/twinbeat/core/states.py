"""Every state the core can be in, the wire values of those states, and all transition rules.

Owns: `Phase` (this node's lifecycle), `GroupLocal` (this node's relation to one resource
group), `FenceState` (whether the peer must be fenced before a takeover), the wire encodings
(node state, node flags, per-group byte: docs/protocol.md), the triggers (`PhaseTrigger`,
`GroupTrigger`, `FenceTrigger`) and the three transition tables keyed by (state, trigger).
Like h11's `_state.py` (Rule 1), every state change of these machines is listed here:
node.py changes the phase only through `phase_step`, groups.py a group's state only through
`group_step`, fencing.py the fence state only through `fence_step`; a pair that is not in a
table raises `CoreMisuse` and changes nothing. Must import nothing but errors.py (and
nothing doing I/O).

Theory of operation
===================
Every heartbeat carries the sender's *whole* state: its phase (node state), flags (ping),
and for each haresources group a byte saying whether it does not hold it, is starting it,
holds it, is stopping it, failed to start it, or failed to stop it (critical), plus the
YIELD (standby) and WANT (takeover) flags. There is no request/acknowledge message: a lost
frame loses nothing because the next one repeats everything. Each node derives, from its own
state and its latest view of the peer (while the peer is alive), which node *should* hold
each group (ownership.py) and moves its own group states towards that (groups.py), never
faster than the rules below allow.

Safety ("never two holders while any link works") rests on a claim step. A node that wants
to start a group first advertises STARTING without starting anything (local state CLAIMING)
and issues StartGroup only when the live peer has sent a frame that (a) echoes a timestamp
of ours newer than our last pre-claim frame — so the peer had seen our claim when it sent
it — and (b) shows the peer neither claiming, starting, holding nor stopping the group. A
node never begins a claim while it sees the peer claiming/holding/stopping the group, and when
two claims meet, the one that is not preferred withdraws. Two nodes cannot both get past
the claim step: if A started, B's acking frame was sent after B saw A's claim and showed B
idle, so B's own claim began later, after A's frame showing A idle — which A cannot have sent
while claiming. Handoff is therefore always stop-then-start. The only way around the claim
step is the peer being declared dead (all links silent beyond deadtime: link quorum) or
having left (LEAVING/GONE, which never start anything). With fencing configured, the first
of these is closed too: a group is started while the peer is dead only once the peer has
been fenced (or confirmed down by an administrator), or had left holding nothing
(fencing.py) — so not even both links cut, nor a hung peer, can make two holders.

Monitoring (monitoring.py) adds three local states to a group held here. A failed resource
restarts in place (RESTARTING, advertised HELD: the peer must not start it meanwhile); one
failure too many within the failure window (or a resource that cannot run here) gives the
group up: it is stopped (GIVING_UP, advertised STOPPING) and then stays GIVEN_UP, advertised
FAILED, so that ownership counts this node out — auto_failback included — until its fail
count expires or an admin clears it. Both nodes given up: nobody is eligible, and the group
stays stopped.

Phases:  BOOT -Started-> PROBING -LeftoversFound-> CLEANING -leftovers stopped-> JOINING
         -comms up (the peer heard, or dead after initdead)-> ACTIVE; any phase
         -ShutdownRequested-> LEAVING -nothing held-> GONE.
On the wire BOOT..JOINING are all JOINING (1); only ACTIVE nodes acquire groups.
"""

from __future__ import annotations

import enum

from .errors import CoreMisuse

# ----------------------------------------------------------------- wire values (fixed)


class WireNodeState(enum.IntEnum):
    JOINING = 1
    ACTIVE = 2
    LEAVING = 3
    GONE = 4


NODE_FLAG_PING_CONFIGURED = 0x01
NODE_FLAG_PING_OK = 0x02
# The frame's fingerprint and group bytes are the *receiver's* earlier configuration, not the
# sender's own: a rolling reload (layouts.py).
NODE_FLAG_TRANSLATED = 0x04


class WireGroupState(enum.IntEnum):
    NONE = 0
    STARTING = 1
    HELD = 2
    STOPPING = 3
    FAILED = 4
    CRITICAL = 5


GROUP_FLAG_YIELD = 0x10  # in standby for this group
GROUP_FLAG_WANT = 0x20  # takeover requested for this group
GROUP_STATE_MASK = 0x0F

# A peer showing one of these blocks any start of the group here.
BUSY = frozenset({WireGroupState.STARTING, WireGroupState.HELD, WireGroupState.STOPPING,
                  WireGroupState.CRITICAL})
# A node showing one of these is no candidate for the group (ownership).
NOT_ELIGIBLE = (WireGroupState.FAILED, WireGroupState.CRITICAL)
# A peer showing one of these makes a claim here withdraw (it got there first).
SETTLED = (WireGroupState.HELD, WireGroupState.STOPPING, WireGroupState.CRITICAL)


def encode_group(state: WireGroupState, yield_: bool, want: bool) -> int:
    return int(state) | (GROUP_FLAG_YIELD if yield_ else 0) | (GROUP_FLAG_WANT if want else 0)


def decode_group(byte: int) -> tuple[WireGroupState, bool, bool]:
    """Decode a peer's group byte; an unknown low nibble is read as CRITICAL (blocks starts)."""
    try:
        state = WireGroupState(byte & GROUP_STATE_MASK)
    except ValueError:
        state = WireGroupState.CRITICAL
    return state, bool(byte & GROUP_FLAG_YIELD), bool(byte & GROUP_FLAG_WANT)


WIRE_NODE_STATE_NAMES = {
    WireNodeState.JOINING: "up",
    WireNodeState.ACTIVE: "active",
    WireNodeState.LEAVING: "leaving",
    WireNodeState.GONE: "dead",
}

# ----------------------------------------------------------------- phase (this node)


class Phase(enum.Enum):
    BOOT = "boot"
    PROBING = "probing"  # Started; waiting for LeftoversFound
    CLEANING = "cleaning"  # stopping leftovers before joining
    JOINING = "joining"  # waiting for comms (peer heard, or initdead)
    ACTIVE = "active"
    LEAVING = "leaving"  # releasing everything
    GONE = "gone"


PHASE_WIRE = {
    Phase.BOOT: WireNodeState.JOINING,
    Phase.PROBING: WireNodeState.JOINING,
    Phase.CLEANING: WireNodeState.JOINING,
    Phase.JOINING: WireNodeState.JOINING,
    Phase.ACTIVE: WireNodeState.ACTIVE,
    Phase.LEAVING: WireNodeState.LEAVING,
    Phase.GONE: WireNodeState.GONE,
}


class PhaseTrigger(enum.Enum):
    """What moves the phase: an event fed in, or a condition found while settling."""

    STARTED = "started"  # event Started
    LEFTOVERS = "leftovers"  # event LeftoversFound
    CLEANED = "cleaned"  # settling: every leftover stopped
    COMMS_UP = "comms_up"  # settling: the peer heard, or declared dead (initdead)
    SHUTDOWN = "shutdown"  # event ShutdownRequested
    RELEASED = "released"  # settling: nothing held, starting or stopping any more


PHASE_TRANSITIONS: dict[tuple[Phase, PhaseTrigger], Phase] = {
    (Phase.BOOT, PhaseTrigger.STARTED): Phase.PROBING,
    (Phase.PROBING, PhaseTrigger.LEFTOVERS): Phase.CLEANING,
    (Phase.CLEANING, PhaseTrigger.CLEANED): Phase.JOINING,
    (Phase.JOINING, PhaseTrigger.COMMS_UP): Phase.ACTIVE,
    (Phase.BOOT, PhaseTrigger.SHUTDOWN): Phase.LEAVING,
    (Phase.PROBING, PhaseTrigger.SHUTDOWN): Phase.LEAVING,
    (Phase.CLEANING, PhaseTrigger.SHUTDOWN): Phase.LEAVING,
    (Phase.JOINING, PhaseTrigger.SHUTDOWN): Phase.LEAVING,
    (Phase.ACTIVE, PhaseTrigger.SHUTDOWN): Phase.LEAVING,
    (Phase.LEAVING, PhaseTrigger.RELEASED): Phase.GONE,
}


def phase_step(phase: Phase, trigger: PhaseTrigger) -> Phase:
    """The phase `trigger` leads to from `phase`; `CoreMisuse` if the table has no such rule."""
    try:
        return PHASE_TRANSITIONS[(phase, trigger)]
    except KeyError:
        raise CoreMisuse(f"{trigger.value!r} is illegal in phase {phase.value}") from None


# A peer's frame showing it leaving: it never starts anything, so it needs not ack claims.
DEPARTING = (WireNodeState.LEAVING, WireNodeState.GONE)

# Phases in which this node sends heartbeats (from the moment it knows its leftovers).
SENDING_PHASES = frozenset({Phase.CLEANING, Phase.JOINING, Phase.ACTIVE, Phase.LEAVING})

# ----------------------------------------------------------------- group (this node)


class GroupLocal(enum.Enum):
    NONE = "none"
    CLAIMING = "claiming"  # advertised as STARTING; waiting for the live peer's ack
    STARTING = "starting"  # StartGroup issued
    HELD = "held"
    STOPPING = "stopping"  # StopGroup issued
    FAILED = "failed"  # start failed; backing off before this node tries again
    CRITICAL = "critical"  # stop (or a start's rollback) failed; still claimed: nobody starts it
    RESTARTING = "restarting"  # RestartGroup issued (a resource failed); advertised HELD
    GIVING_UP = "giving_up"  # StopGroup issued: failed here too often (or cannot run here)
    GIVEN_UP = "given_up"  # stopped for failures; not eligible here until they expire/clear


GROUP_WIRE = {
    GroupLocal.NONE: WireGroupState.NONE,
    GroupLocal.CLAIMING: WireGroupState.STARTING,
    GroupLocal.STARTING: WireGroupState.STARTING,
    GroupLocal.HELD: WireGroupState.HELD,
    GroupLocal.STOPPING: WireGroupState.STOPPING,
    GroupLocal.FAILED: WireGroupState.FAILED,
    GroupLocal.CRITICAL: WireGroupState.CRITICAL,
    GroupLocal.RESTARTING: WireGroupState.HELD,  # the peer must not start it meanwhile
    GroupLocal.GIVING_UP: WireGroupState.STOPPING,
    GroupLocal.GIVEN_UP: WireGroupState.FAILED,  # not eligible: no failback, no ping-pong
}


class GroupTrigger(enum.Enum):
    """What moves a group's local state: an agent's result fed in, or a rule while settling."""

    CLAIM = "claim"  # settling: ownership picks this node and the peer is not busy with it
    LEFTOVER = "leftover"  # event LeftoversFound: running at start-up
    WITHDRAW = "withdraw"  # settling: no longer picked, the peer holds it, or leaving
    ACKED = "acked"  # settling: the peer has seen the claim and is idle (the claim rule)
    STARTED = "started"  # event GroupStarted
    START_FAILED = "start_failed"  # event GroupStartFailed, rolled back
    ROLLBACK_FAILED = "rollback_failed"  # event GroupStartFailed(rolled_back=False)
    RELEASE = "release"  # settling: picked elsewhere, or shutdown
    STOPPED = "stopped"  # event GroupStopped
    STOP_FAILED = "stop_failed"  # event GroupStopFailed
    RETRY = "retry"  # timer: failed-start backoff over
    RESTART = "restart"  # event ResourceFailed, below the failure threshold: RestartGroup
    GIVE_UP = "give_up"  # event ResourceFailed reaching the threshold, or cannot run here
    RESTARTED = "restarted"  # event GroupRestarted
    RESTART_FAILED = "restart_failed"  # event GroupRestartFailed, rolled back (nothing runs)
    RESTART_STUCK = "restart_stuck"  # event GroupRestartFailed(rolled_back=False)
    FORGIVEN = "forgiven"  # event FailuresCleared, or timer: the fail count expired


GROUP_TRANSITIONS: dict[tuple[GroupLocal, GroupTrigger], GroupLocal] = {
    (GroupLocal.NONE, GroupTrigger.CLAIM): GroupLocal.CLAIMING,
    (GroupLocal.NONE, GroupTrigger.LEFTOVER): GroupLocal.STOPPING,  # found running at start-up
    (GroupLocal.CLAIMING, GroupTrigger.WITHDRAW): GroupLocal.NONE,
    (GroupLocal.CLAIMING, GroupTrigger.ACKED): GroupLocal.STARTING,  # -> StartGroup
    (GroupLocal.STARTING, GroupTrigger.STARTED): GroupLocal.HELD,
    (GroupLocal.STARTING, GroupTrigger.START_FAILED): GroupLocal.FAILED,
    (GroupLocal.STARTING, GroupTrigger.ROLLBACK_FAILED): GroupLocal.CRITICAL,
    (GroupLocal.HELD, GroupTrigger.RELEASE): GroupLocal.STOPPING,  # -> StopGroup
    (GroupLocal.CRITICAL, GroupTrigger.RELEASE): GroupLocal.STOPPING,  # retried at shutdown only
    (GroupLocal.STOPPING, GroupTrigger.STOPPED): GroupLocal.NONE,
    (GroupLocal.STOPPING, GroupTrigger.STOP_FAILED): GroupLocal.CRITICAL,
    (GroupLocal.FAILED, GroupTrigger.RETRY): GroupLocal.NONE,  # backoff over
    # monitoring.py: restart in place, or give the group up
    (GroupLocal.HELD, GroupTrigger.RESTART): GroupLocal.RESTARTING,  # -> RestartGroup
    (GroupLocal.RESTARTING, GroupTrigger.RESTARTED): GroupLocal.HELD,
    (GroupLocal.RESTARTING, GroupTrigger.RESTART_FAILED): GroupLocal.GIVEN_UP,
    (GroupLocal.RESTARTING, GroupTrigger.RESTART_STUCK): GroupLocal.CRITICAL,
    (GroupLocal.HELD, GroupTrigger.GIVE_UP): GroupLocal.GIVING_UP,  # -> StopGroup
    (GroupLocal.GIVING_UP, GroupTrigger.STOPPED): GroupLocal.GIVEN_UP,
    (GroupLocal.GIVING_UP, GroupTrigger.STOP_FAILED): GroupLocal.CRITICAL,
    (GroupLocal.GIVING_UP, GroupTrigger.FORGIVEN): GroupLocal.STOPPING,  # a plain stop now
    (GroupLocal.GIVEN_UP, GroupTrigger.FORGIVEN): GroupLocal.NONE,
}


# A node leaving is done once none of its groups is in one of these.
NOT_RELEASED = (GroupLocal.STARTING, GroupLocal.STOPPING, GroupLocal.HELD,
                GroupLocal.RESTARTING, GroupLocal.GIVING_UP)
# While a group is in one of these here, its PeerWatch keeps what it learnt (announce.py).
WATCHED = (GroupLocal.STARTING, GroupLocal.HELD, GroupLocal.RESTARTING)
# Given up here for failures (the snapshot's `failed_here`).
GIVEN_UP_HERE = (GroupLocal.GIVING_UP, GroupLocal.GIVEN_UP)


def group_step(state: GroupLocal, trigger: GroupTrigger) -> GroupLocal:
    """The state `trigger` leads to from `state`; `CoreMisuse` if the table has no such rule."""
    try:
        return GROUP_TRANSITIONS[(state, trigger)]
    except KeyError:
        raise CoreMisuse(
            f"{trigger.value!r} is illegal for a group in state {state.value}"
        ) from None


def group_step_allowed(state: GroupLocal, trigger: GroupTrigger) -> bool:
    return (state, trigger) in GROUP_TRANSITIONS


# ----------------------------------------------------------------- fencing (the peer)


class FenceState(enum.Enum):
    """Whether the peer must be fenced before this node takes anything over (fencing.py).

    Only `idle` and `fenced` let a group start while the peer is dead; the others make the
    status degraded (`FENCE_PENDING`)."""

    IDLE = "idle"  # nothing to do: the peer is alive, left gracefully, or not declared dead yet
    UNSEEN = "unseen"  # not heard in this run (initdead over): never fenced, never taken over
    WAITING = "waiting"  # dead: the head start (fence_delay) runs before the first attempt
    FENCING = "fencing"  # FencePeer issued: the first attempt is outstanding
    FAILED = "failed"  # the last attempt failed: backing off before the next
    RETRYING = "retrying"  # FencePeer issued again: a retry is outstanding
    FENCED = "fenced"  # the device (or an administrator) confirmed it down: takeover allowed


class FenceTrigger(enum.Enum):
    """What moves the fence state: membership's notices, a timer, or a fence event."""

    DIED = "died"  # notice PeerDied: heard in this run, did not leave gracefully
    UNSEEN = "unseen"  # notice PeerDied of a peer never heard in this run (initdead)
    RETURNED = "returned"  # notice PeerReturned: heard again before any attempt was made
    DUE = "due"  # timer: head start or backoff over (and this node may fence): FencePeer
    CONFIRMED = "confirmed"  # event PeerFenced
    REFUSED = "refused"  # event FenceFailed while the peer is still dead
    MOOT = "moot"  # event FenceFailed after the peer came back: nothing to retry
    ACKNOWLEDGED = "acknowledged"  # event FenceAcknowledged (the peer not alive)


FENCE_TRANSITIONS: dict[tuple[FenceState, FenceTrigger], FenceState] = {
    (FenceState.IDLE, FenceTrigger.DIED): FenceState.WAITING,
    (FenceState.IDLE, FenceTrigger.UNSEEN): FenceState.UNSEEN,
    (FenceState.UNSEEN, FenceTrigger.RETURNED): FenceState.IDLE,
    (FenceState.WAITING, FenceTrigger.RETURNED): FenceState.IDLE,  # cancelled
    (FenceState.FAILED, FenceTrigger.RETURNED): FenceState.IDLE,  # retries cancelled
    (FenceState.FENCED, FenceTrigger.RETURNED): FenceState.IDLE,  # a new incarnation
    (FenceState.WAITING, FenceTrigger.DUE): FenceState.FENCING,
    (FenceState.FAILED, FenceTrigger.DUE): FenceState.RETRYING,
    (FenceState.FENCING, FenceTrigger.CONFIRMED): FenceState.FENCED,
    (FenceState.RETRYING, FenceTrigger.CONFIRMED): FenceState.FENCED,
    (FenceState.FENCING, FenceTrigger.REFUSED): FenceState.FAILED,
    (FenceState.RETRYING, FenceTrigger.REFUSED): FenceState.FAILED,
    (FenceState.FENCING, FenceTrigger.MOOT): FenceState.IDLE,
    (FenceState.RETRYING, FenceTrigger.MOOT): FenceState.IDLE,
    (FenceState.IDLE, FenceTrigger.ACKNOWLEDGED): FenceState.FENCED,
    (FenceState.UNSEEN, FenceTrigger.ACKNOWLEDGED): FenceState.FENCED,
    (FenceState.WAITING, FenceTrigger.ACKNOWLEDGED): FenceState.FENCED,
    (FenceState.FENCING, FenceTrigger.ACKNOWLEDGED): FenceState.FENCED,
    (FenceState.FAILED, FenceTrigger.ACKNOWLEDGED): FenceState.FENCED,
    (FenceState.RETRYING, FenceTrigger.ACKNOWLEDGED): FenceState.FENCED,
}

# A fence is needed and not confirmed (or the peer is unseen): no takeover, status degraded.
FENCE_PENDING = frozenset({FenceState.UNSEEN, FenceState.WAITING, FenceState.FENCING,
                           FenceState.FAILED, FenceState.RETRYING})
# An attempt is outstanding: its result is awaited (PeerFenced / FenceFailed).
FENCE_OUTSTANDING = frozenset({FenceState.FENCING, FenceState.RETRYING})


def fence_step(state: FenceState, trigger: FenceTrigger) -> FenceState:
    """The state `trigger` leads to from `state`; `CoreMisuse` if the table has no such rule."""
    try:
        return FENCE_TRANSITIONS[(state, trigger)]
    except KeyError:
        raise CoreMisuse(f"{trigger.value!r} is illegal for fencing in state {state.value}") \
            from None


def fence_step_allowed(state: FenceState, trigger: FenceTrigger) -> bool:
    return (state, trigger) in FENCE_TRANSITIONS


# ----------------------------------------------------------------- wire timestamps

U32 = 0xFFFFFFFF


def wire_ms(now: float) -> int:
    """A core time as the wire's u32 millisecond timestamp (it wraps every ~49.7 days)."""
    return int(now * 1000) & U32


def ts_after(a: int, b: int) -> bool:
    """Serial-number order on u32 millisecond timestamps: is `a` later than `b`?"""
    d = (a - b) & U32
    return 0 < d < 0x80000000
