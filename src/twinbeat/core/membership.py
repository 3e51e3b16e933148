"""The peer: which frames to accept, whether it is alive (the link quorum), what it advertises.

Owns: `Membership` and its `PeerTracker` (generation, applied sequence, alive/declared dead,
the peer's latest applied state, the echo of our claims), one `LinkTracker` per link
(liveness.py), and the per-link counts of frames that could not be attributed to the peer.
It decides:

- **frame acceptance**: our own name → ignored, not counted (our broadcast looping back);
  any other unknown sender → rejected "unknown-peer"; an older generation or a sequence
  already seen on that link → replayed; a higher generation → the peer restarted (its state
  and sequences are forgotten); a sequence already applied via another link → duplicate, an
  older unseen one → stale: both refresh their link, neither is applied;
- **the link quorum**: a link is up while heard within deadtime (+ grace; initdead before the
  first frame); the peer is dead only when *every* link is dead — one link down is a warning,
  never a takeover (DESIGN §3);
- RTT from valid echoes, late-heartbeat warnings (warntime), configuration mismatch reports.

What the groups must learn (the peer died holding something, came back, holds a group) and
when a heartbeat is owed at once are returned as `Notice`s; node.py passes them on. The groups
see the peer only through `LivePeer`, a frozen view. Must not import groups.py, node.py or
anything doing I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CoreMisuse
from .events import Action, FrameReceived, LinkEcho, Log
from .heartbeat import SentRange
from .liveness import LinkTracker, RejectCounts, grace
from .ownership import GroupView
from .params import Params
from .states import (
    BUSY,
    U32,
    WIRE_NODE_STATE_NAMES,
    WireGroupState,
    WireNodeState,
    decode_group,
    ts_after,
    wire_ms,
)

UNKNOWN_PEER = "unknown-peer"
# Groups the peer really held: a claim also shows as STARTING, and a lost claim must not be
# reported as "took over from".
REALLY_HELD = frozenset({WireGroupState.HELD, WireGroupState.STOPPING})


# --------------------------------------------------------------------- what others may see


@dataclass(frozen=True)
class LivePeer:
    """The peer while it is alive, as the groups may see it: its latest applied state."""

    name: str
    config_match: bool
    node_state: WireNodeState | None  # None: alive, but no frame applied since (re)start
    node_flags: int
    groups: tuple[GroupView, ...]  # () until a matching frame is applied
    echo_max: int | None  # our newest timestamp it has echoed (this incarnation)

    def group(self, index: int) -> WireGroupState | None:
        """The peer's state for group `index`, or None when its group bytes are unknown."""
        return self.groups[index].state if self.groups else None


@dataclass(frozen=True)
class PeerDied:
    """Every link silent beyond deadtime: the peer is assumed to hold nothing any more."""

    peer: str
    busy: tuple[int, ...]  # groups it showed claiming, starting, holding or stopping
    was_alive: bool


@dataclass(frozen=True)
class PeerReturned:
    """A peer declared dead is heard again."""

    peer: str


@dataclass(frozen=True)
class PeerHolds:
    """An applied frame shows the peer holding (or stopping) these groups."""

    peer: str
    indices: tuple[int, ...]


@dataclass(frozen=True)
class AnswerOwed:
    """Send a heartbeat now: the peer came alive, changed state, claims or died."""


Notice = PeerDied | PeerReturned | PeerHolds | AnswerOwed

# --------------------------------------------------------------------- the peer's record


@dataclass
class PeerTracker:
    """Everything known about the peer; written by Membership only, read by status.py."""

    name: str
    links: dict[str, LinkTracker]
    generation: int | None = None
    alive: bool = False
    ever_alive: bool = False
    declared_dead: bool = False
    last_heard: float | None = None
    applied_seq: int = 0
    last_applied_at: float | None = None
    node_state: WireNodeState | None = None
    node_flags: int = 0
    groups: tuple[GroupView, ...] = ()
    config_match: bool = True
    mismatch_logged: bool = False
    echo_max: int | None = None  # our latest timestamp the peer has echoed (this incarnation)

    def forget_state(self) -> None:
        """Dead or restarted: assume it holds nothing (no STONITH; heartbeat's assumption)."""
        self.node_state = None
        self.node_flags = 0
        self.groups = ()
        self.echo_max = None


class Membership:
    """The peer's liveness and state, from the frames fed in. See the module docstring.

    `peer` and `unattributed` are read by status.py for the snapshot; only this class
    writes them.
    """

    def __init__(self, params: Params) -> None:
        self.params = params
        self.peer: PeerTracker | None = None
        if params.peer is not None:
            links = {ln: LinkTracker(link=ln) for ln in params.links}
            self.peer = PeerTracker(params.peer, links)
        self.unattributed = {ln: RejectCounts() for ln in params.links}
        self.initdead_end: float | None = None

    # ------------------------------------------------------------------ queries

    def check_link(self, link: str) -> None:
        if link not in self.unattributed:
            raise CoreMisuse(f"unknown link {link!r}")

    def live_peer(self) -> LivePeer | None:
        peer = self.peer
        if peer is None or not peer.alive:
            return None
        return LivePeer(peer.name, peer.config_match, peer.node_state, peer.node_flags,
                        peer.groups, peer.echo_max)

    def comms_up(self) -> bool:
        """Joining may end: the peer was heard, or declared dead (initdead), or there is none."""
        return self.peer is None or self.peer.alive or self.peer.declared_dead

    def echoes(self, now: float) -> tuple[LinkEcho, ...]:
        """One echo per link, for our next heartbeat."""
        if self.peer is None:
            return tuple(LinkEcho(link=ln, echo_ms=0, echo_delay_ms=0) for ln in self.params.links)
        return tuple(self.peer.links[ln].echo(now) for ln in self.params.links)

    # ------------------------------------------------------------------ timers

    def start(self, now: float) -> None:
        """`Started`: links not heard by initdead from now are dead."""
        self.initdead_end = now + self.params.initdead

    def _link_deadline(self, lt: LinkTracker) -> float | None:
        p = self.params
        return lt.deadline(p.deadtime, grace(p.keepalive), self.initdead_end)

    def deadline(self) -> float | None:
        """The earliest time at which a link goes dead if nothing arrives."""
        if self.peer is None:
            return None
        times = [self._link_deadline(lt) for lt in self.peer.links.values()]
        return min((t for t in times if t is not None), default=None)

    def advance(self, now: float, out: list[Action]) -> list[Notice]:
        """Links silent past their deadline go dead; when all are dead, so is the peer."""
        peer = self.peer
        if peer is None:
            return []
        quiet = peer.node_state is WireNodeState.GONE  # it said goodbye: no alarm
        for lt in peer.links.values():
            due = self._link_deadline(lt)
            if due is not None and now >= due:
                lt.mark_dead()
                out.append(Log("info" if quiet else "warning", f"Link {peer.name}:{lt.link} dead."))
        if peer.declared_dead or not all(lt.up is False for lt in peer.links.values()):
            return []
        return self._declare_dead(peer, out)

    def _declare_dead(self, peer: PeerTracker, out: list[Action]) -> list[Notice]:
        quiet = peer.node_state is WireNodeState.GONE
        busy = tuple(i for i, gv in enumerate(peer.groups) if gv.state in BUSY)
        died = PeerDied(peer.name, busy, was_alive=peer.alive)
        peer.alive = False
        peer.declared_dead = True
        out.append(Log("info" if quiet else "warning", f"node {peer.name}: is dead"))
        peer.forget_state()
        return [died, AnswerOwed()]

    # ------------------------------------------------------------------ frames

    def on_frame(
        self, ev: FrameReceived, now: float, sent: SentRange, out: list[Action]
    ) -> list[Notice]:
        """Accept (or count and drop) an authenticated frame; apply its state if newer."""
        peer = self.peer
        if ev.peer == self.params.node:
            return []  # our own broadcast looping back: normal, not counted
        if peer is None or ev.peer != peer.name:
            self.unattributed[ev.link].count(UNKNOWN_PEER)
            return []
        lt = peer.links[ev.link]
        restarted = self._check_generation(peer, lt, ev.generation, out)
        if restarted is None or not lt.accept(ev.sequence):
            return []
        # Link liveness: any non-replayed frame refreshes its link (heartbeat §4).
        if lt.refresh(now, self.params.warntime):
            out.append(Log("info", f"Link {peer.name}:{ev.link} up."))
        lt.note_peer_timestamp(ev.timestamp_ms, now)
        self._note_echo(peer, lt, ev, now, sent)
        peer.last_heard = now
        notices = [] if peer.alive else self._revive(peer, restarted, out)
        # State: apply only what is newer than what was already applied.
        if ev.sequence <= peer.applied_seq:
            if any(t.has_seen(ev.sequence) for t in peer.links.values() if t is not lt):
                lt.count_duplicate()
            else:
                lt.count_stale()
            return notices
        if peer.last_applied_at is not None:
            interval = now - peer.last_applied_at
            if interval > self.params.warntime:
                out.append(Log("warning", f"Late heartbeat: Node {peer.name}: interval "
                                          f"{round(interval * 1000)} ms"))
        peer.applied_seq = ev.sequence
        peer.last_applied_at = now
        return notices + self._apply_state(peer, ev, out)

    @staticmethod
    def _note_echo(
        peer: PeerTracker, lt: LinkTracker, ev: FrameReceived, now: float, sent: SentRange
    ) -> None:
        """An echo of a timestamp this incarnation sent gives the link's RTT and tells how far
        the peer has seen our frames (the claim rule); any other echo is ignored."""
        if ev.echo_ms and sent.contains(ev.echo_ms):
            lt.note_rtt((wire_ms(now) - ev.echo_ms - ev.echo_delay_ms) & U32)
            if peer.echo_max is None or ts_after(ev.echo_ms, peer.echo_max):
                peer.echo_max = ev.echo_ms

    def _check_generation(
        self, peer: PeerTracker, lt: LinkTracker, generation: int, out: list[Action]
    ) -> bool | None:
        """None: an older generation (a replay, counted). Else whether the peer restarted."""
        if peer.generation is not None and generation < peer.generation:
            lt.count_replay()
            return None
        if peer.generation is not None and generation == peer.generation:
            return False
        restarted = peer.generation is not None
        if restarted:
            out.append(Log("info", f"Heartbeat restart on node {peer.name}"))
        peer.generation = generation
        for t in peer.links.values():
            t.forget_sequences()
        peer.applied_seq = 0
        peer.last_applied_at = None
        peer.forget_state()
        return restarted

    def _revive(self, peer: PeerTracker, restarted: bool, out: list[Action]) -> list[Notice]:
        notices: list[Notice] = []
        peer.alive = True
        if peer.declared_dead:
            peer.declared_dead = False
            notices.append(PeerReturned(peer.name))
            if peer.ever_alive and not restarted:
                out.append(Log("warning", f"Cluster node {peer.name} returning after "
                                          "partition."))
        peer.ever_alive = True
        notices.append(AnswerOwed())
        return notices

    def _apply_state(self, peer: PeerTracker, ev: FrameReceived, out: list[Action]) -> list[Notice]:
        notices: list[Notice] = []
        match = self._note_config(peer, ev, out)
        try:
            state = WireNodeState(ev.node_state)
        except ValueError:
            state = WireNodeState.JOINING  # unknown: treat as not active (never a candidate)
        if state is not peer.node_state:
            if state is WireNodeState.LEAVING:
                out.append(Log("info", f"Received shutdown notice from '{peer.name}'."))
            out.append(Log("info", f"Status update for node {peer.name}: status "
                                   f"{WIRE_NODE_STATE_NAMES[state]}"))
            notices.append(AnswerOwed())
        peer.node_state = state
        peer.node_flags = ev.node_flags
        if not match:
            peer.groups = ()
            return notices
        old = peer.groups
        new = tuple(GroupView(*decode_group(byte)) for byte in ev.groups)
        # Answer a new claim at once: it is waiting for our echo.
        if any(gv.state is WireGroupState.STARTING
               and (not old or (i < len(old) and old[i] != gv))
               for i, gv in enumerate(new)):
            notices.append(AnswerOwed())
        peer.groups = new
        held = tuple(i for i, gv in enumerate(new) if gv.state in REALLY_HELD)
        if held:
            notices.append(PeerHolds(peer.name, held))
        return notices

    def _note_config(self, peer: PeerTracker, ev: FrameReceived, out: list[Action]) -> bool:
        """Whether the peer runs our configuration; a mismatch is logged once per episode."""
        p = self.params
        match = ev.fingerprint == p.fingerprint and len(ev.groups) == len(p.groups)
        if not match:
            if not peer.mismatch_logged:
                out.append(
                    Log("error", f"Configuration mismatch with node {peer.name}: fingerprint "
                                 f"{ev.fingerprint:08x} vs {p.fingerprint:08x}, "
                                 f"{len(ev.groups)} vs {len(p.groups)} groups; no resource "
                                 "handoff with it until haresources and node lists agree")
                )
                peer.mismatch_logged = True
        elif peer.mismatch_logged:
            out.append(Log("info", f"Configuration of node {peer.name} now matches"))
            peer.mismatch_logged = False
        peer.config_match = match
        return match
