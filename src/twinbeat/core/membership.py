"""The peer: which frames to accept, whether it is alive (the link quorum), what it advertises.

Owns: `Membership` and its `PeerTracker` (the incarnation followed: generation and newest
applied frame; alive/declared dead, the peer's latest applied state, the echoes of our
timestamps), one `LinkTracker` per link (liveness.py), and the per-link counts of frames
that could not be attributed to the peer. It decides:

- **sender**: our own name → ignored, not counted (our broadcast looping back); any other
  unknown sender → rejected "unknown-peer";
- **freshness** (freshness.py judges, this module carries the judgement out): only a frame
  echoing one of our recent timestamps refreshes a link, is applied, brings the peer to life
  or makes us follow another incarnation (restart, generation gone backwards, sequence
  numbers starting again: logged, and recorded with `RecordPeerGeneration`). A replay can do
  none of these, before or after our own restart. Within the incarnation followed
  (sequences.py): a sequence seen on that link or too old → replayed; the same heartbeat
  received on another link → duplicate (it refreshes its link); an older unseen one →
  stale (changes nothing); only the newest is applied;
- **the link quorum**: a link is up while heard within deadtime (+ grace; initdead from our
  first heartbeat), dead at once when its carrier is lost (`carrier`, docs/core.md); the
  peer is dead only when *every* link is dead — one is a warning, never a takeover;
- RTT from fresh echoes, late-heartbeat warnings (warntime), configuration mismatch reports.

What the groups must learn (the peer died holding something, came back, holds a group) and
when a heartbeat is owed at once are returned as `Notice`s; node.py passes them on. The groups
see the peer only through `LivePeer` (notices.py). Must not import groups.py, node.py or I/O.
"""
from __future__ import annotations

from collections.abc import Callable

from .errors import CoreMisuse
from .events import Action, FrameReceived, LinkEcho, Log, RecordPeerGeneration
from .freshness import Followed, Judgement, judge
from .heartbeat import SentRange
from .layouts import Layouts, peer_groups
from .liveness import LinkTracker, RejectCounts, carrier_report, grace
from .notices import AnswerOwed, LivePeer, Notice, PeerDied, PeerHolds, PeerReturned
from .ownership import GroupView
from .params import Params
from .peer import PeerTracker
from .sequences import Newest
from .states import (
    BUSY,
    DEPARTING,
    U32,
    WIRE_NODE_STATE_NAMES,
    WireGroupState,
    WireNodeState,
    ts_after,
)

__all__ = [
    "REALLY_HELD", "UNKNOWN_PEER", "AnswerOwed", "Judgement", "LivePeer", "Membership", "Notice",
    "PeerDied", "PeerHolds", "PeerReturned", "PeerTracker",
]

UNKNOWN_PEER = "unknown-peer"
# Groups the peer really held: a claim also shows as STARTING, and a lost claim must not be
# reported as "took over from".
REALLY_HELD = frozenset({WireGroupState.HELD, WireGroupState.STOPPING})

# Frames that are only counted, and the counter of each.
DROPPED: dict[Judgement, Callable[[LinkTracker], None]] = {
    Judgement.REPLAYED: LinkTracker.count_replay,
    Judgement.UNECHOED: LinkTracker.count_unechoed,
    Judgement.STALE: LinkTracker.count_stale,
}

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
        self.recorded = params.peer_generation  # what the state dir says (RecordPeerGeneration)
        self.layouts = Layouts()  # this run's earlier configurations (a reload)
        self.heard = 0  # fresh frames taken in (node.py: a keepalive may go out with one)

    # ------------------------------------------------------------------ queries

    def check_link(self, link: str) -> None:
        if link not in self.unattributed:
            raise CoreMisuse(f"unknown link {link!r}")

    def live_peer(self) -> LivePeer | None:
        peer = self.peer
        if peer is None or not peer.alive:
            return None
        return LivePeer(peer.name, peer.config_match, peer.node_state, peer.node_flags,
                        peer.groups, peer.echo_max, peer.config.absent)

    def outgoing(self) -> tuple[int, tuple[str, ...]] | None:
        """The layout our frames go out in when the peer runs our previous configuration
        (layouts.py), else None: our own."""
        return None if self.peer is None else self.layouts.outgoing(self.peer.config.fingerprint)

    def comms_up(self) -> bool:
        """Joining may end: the peer was heard, or declared dead (initdead), or there is none."""
        return self.peer is None or self.peer.alive or self.peer.declared_dead

    def echoes(self, now: float) -> tuple[LinkEcho, ...]:
        """One echo per link, for our next heartbeat."""
        if self.peer is None:
            return tuple(LinkEcho(link=ln, echo_ms=0, echo_delay_ms=0) for ln in self.params.links)
        return tuple(self.peer.links[ln].echo(now) for ln in self.params.links)

    # ------------------------------------------------------------------ timers

    def speaking(self, now: float) -> None:
        """We sent a heartbeat. From the first one, links not heard within initdead are dead:
        before it the peer cannot echo us, so cannot prove itself (a long leftover probe
        must not declare a live peer dead)."""
        if self.initdead_end is None:
            self.initdead_end = now + self.params.initdead

    def _link_deadline(self, lt: LinkTracker) -> float | None:
        p = self.params
        return lt.deadline(p.deadtime, grace(p.keepalive), self.initdead_end)

    def paused(self, excess: float) -> None:
        """This node was paused (pause.py): the excess is not the peer's silence."""
        if excess and self.peer is not None:
            for lt in self.peer.links.values():
                lt.paused += excess

    def deadline(self) -> float | None:
        """The earliest time at which a link goes dead if nothing arrives."""
        if self.peer is None:
            return None
        times = [self._link_deadline(lt) for lt in self.peer.links.values()]
        return min((t for t in times if t is not None), default=None)

    def advance(self, now: float, out: list[Action], *, foreign: bool | None = None
                ) -> list[Notice]:
        """Links silent past their deadline go dead; when all are dead, so is the peer.

        `foreign` (foreign.py): None, the peer never spoke heartbeat 3.0.6; True, it speaks
        it: with no link up it is then only not alive *as a twinbeat node* (nothing it
        advertised in frames stands), never dead; False, it fell silent: with no link up it
        is dead, even if initdead is not over for links never heard."""
        peer = self.peer
        if peer is None:
            return []
        quiet = peer.node_state is WireNodeState.GONE  # it said goodbye: no alarm
        for lt in peer.links.values():
            due = self._link_deadline(lt)
            if due is not None and now >= due:
                unechoed = lt.mark_dead()
                out.append(Log("info" if quiet else "warning", f"Link {peer.name}:{lt.link} dead."))
                if unechoed:
                    out.append(Log("warning", f"Link {peer.name}:{lt.link}: {unechoed} frames "
                                              "heard that echo none of ours (a link that "
                                              "works one way only, or replayed frames)"))
        return self._quorum_lost(peer, out, foreign)

    def _quorum_lost(self, peer: PeerTracker, out: list[Action], foreign: bool | None
                     ) -> list[Notice]:
        """The link quorum: the peer dies when its last link does, however each died.
        `foreign`: as in `advance`."""
        if any(lt.up for lt in peer.links.values()):
            return []
        if foreign:
            peer.alive = peer.declared_dead = False
            peer.forget_state()
            return []
        if peer.declared_dead or (foreign is None and
                                  not all(lt.up is False for lt in peer.links.values())):
            return []
        return self._declare_dead(peer, out)

    def carrier(self, link: str, up: bool, last_ts: int | None, out: list[Action], *,
                foreign: bool | None = None) -> list[Notice]:
        """The driver's report on `link`'s physical layer (docs/core.md, Physical links):
        lost, the link is dead now, and the peer too if it was the last; back, only news."""
        peer = self.peer
        if peer is None:
            return []
        news, killed = carrier_report(peer.links, link, up, last_ts, peer.alive)
        if news is not None:
            loud = killed and peer.node_state is not WireNodeState.GONE
            out.append(Log("warning" if loud else "info", f"Link {peer.name}:{link}{news}"))
        return self._quorum_lost(peer, out, foreign) if killed else []

    def _declare_dead(self, peer: PeerTracker, out: list[Action]) -> list[Notice]:
        quiet = peer.node_state is WireNodeState.GONE
        busy = tuple(i for i, gv in enumerate(peer.groups) if gv.state in BUSY)
        left = peer.node_state in DEPARTING and peer.config_match and not busy
        died = PeerDied(peer.name, busy, was_alive=peer.alive, left=left)
        peer.alive = False
        peer.declared_dead = True
        out.append(Log("info" if quiet else "warning", f"node {peer.name}: is dead"))
        peer.forget_state()
        return [died, AnswerOwed()]

    def fenced(self, last_ts: int | None, out: list[Action]) -> list[Notice]:
        """The peer was fenced, or an administrator confirmed it down (fencing.py): it is
        dead now, whatever its links said, and nothing it sent before can revive it.

        Frames still in flight (or held back) echo only timestamps we sent before the
        confirmation. Raising the floor of *news* (Freshness) to our latest timestamp means
        that only an incarnation that heard us afterwards — booted after the reset — can
        come alive; a frame of the reset one cannot make it look alive again."""
        peer = self.peer
        if peer is None:
            return []
        if last_ts is not None and (peer.echo_floor is None
                                    or ts_after(last_ts, peer.echo_floor)):
            peer.echo_floor = last_ts
        if peer.declared_dead:
            return []
        for lt in peer.links.values():
            lt.mark_dead()
        return self._declare_dead(peer, out)

    # ------------------------------------------------------------------ frames

    def on_frame(
        self, ev: FrameReceived, now: float, sent: SentRange, out: list[Action]
    ) -> list[Notice]:
        """Judge an authenticated frame (see the module docstring) and act on it."""
        peer = self.peer
        if ev.peer == self.params.node:
            return []  # our own broadcast looping back: normal, not counted
        if peer is None or ev.peer != peer.name:
            self.unattributed[ev.link].count(UNKNOWN_PEER)
            return []
        lt = peer.links[ev.link]
        # So that a restarted peer can prove us: echoed back at once (and below on a link
        # that is down, or was cut off by a carrier loss), freshness.py.
        held = [] if peer.alive else self._echo_back(lt, ev, now)
        if not lt.proves_link(ev.echo_ms):  # sent before a carrier loss: proves nothing
            lt.count_stale()
            return self._echo_back(lt, ev, now)
        judgement = self._judge(peer, lt, ev, sent)
        if judgement is Judgement.ECHO_ONLY:
            lt.count_unechoed()
            return held if lt.up else self._echo_back(lt, ev, now)
        if judgement in DROPPED:
            DROPPED[judgement](lt)  # counted, nothing else
            return held
        restarted = False
        if judgement in (Judgement.ADOPT, Judgement.REBASE):
            restarted = self._adopt(peer, ev, out, quiet=judgement is Judgement.REBASE)
        return self._accept(peer, lt, ev, now=now, new=judgement is not Judgement.COPY,
                            restarted=restarted, sent=sent, out=out)

    @staticmethod
    def _echo_back(lt: LinkTracker, ev: FrameReceived, now: float) -> list[Notice]:
        lt.hold_echo(ev.timestamp_ms, now)
        return [AnswerOwed()]

    def _judge(self, peer: PeerTracker, lt: LinkTracker, ev: FrameReceived,
               sent: SentRange) -> Judgement:
        known = peer.generation if peer.generation is not None else self.recorded
        followed = Followed(peer.generation, known, peer.alive, peer.echo_floor, peer.newest)
        others = [t.seen for t in peer.links.values() if t is not lt]
        return judge(ev, sent, followed, lt.seen, others)

    def _accept(self, peer: PeerTracker, lt: LinkTracker, ev: FrameReceived, *, now: float,
                new: bool, restarted: bool, sent: SentRange, out: list[Action]) -> list[Notice]:
        """A fresh frame of the incarnation followed: remember it, refresh its link, bring
        the peer to life; apply it if it is the newest."""
        if new:
            peer.newest = Newest(ev.sequence, ev.timestamp_ms, ev.echo_ms)
        assert peer.newest is not None
        lt.remember(ev.sequence, ev.timestamp_ms, peer.newest.seq)
        lt.note_peer_timestamp(ev.timestamp_ms, now)
        if lt.refresh(now, self.params.warntime):
            out.append(Log("info", f"Link {peer.name}:{ev.link} up."))
        self._note_echo(peer, lt, ev, sent)
        peer.last_heard, self.heard = now, self.heard + 1
        notices = [] if peer.alive else self._revive(peer, restarted, out)
        if not new:
            lt.count_duplicate()
            return notices
        if peer.last_applied_at is not None:
            interval = now - peer.last_applied_at
            if interval > self.params.warntime:
                out.append(Log("warning", f"Late heartbeat: Node {peer.name}: interval "
                                          f"{round(interval * 1000)} ms"))
        peer.last_applied_at = now
        return notices + self._apply_state(peer, ev, out)

    @staticmethod
    def _note_echo(peer: PeerTracker, lt: LinkTracker, ev: FrameReceived, sent: SentRange) -> None:
        """A fresh echo gives the link's RTT and tells how far the peer has seen our frames
        (the claim rule)."""
        lt.note_rtt((sent.now_ms - ev.echo_ms - ev.echo_delay_ms) & U32)
        if peer.echo_max is None or ts_after(ev.echo_ms, peer.echo_max):
            peer.echo_max = ev.echo_ms
        if peer.echo_floor is None or ts_after(ev.echo_ms, peer.echo_floor):
            peer.echo_floor = ev.echo_ms

    def _adopt(self, peer: PeerTracker, ev: FrameReceived, out: list[Action], *,
               quiet: bool) -> bool:
        """Follow another incarnation of the peer (a fresh frame proved it runs): forget the
        old one's sequences and state, say what happened, record the generation. Returns
        whether it replaces an incarnation followed in this run (a restart). `quiet`: a
        re-base on a reordered frame, perhaps of the same incarnation: nothing to say."""
        known = peer.generation if peer.generation is not None else self.recorded
        name, g = peer.name, ev.generation
        if known is not None and g < known:
            out.append(Log("warning", f"node {name}: generation went backwards ({known} -> "
                                      f"{g}): state dir lost or restored from a snapshot? "
                                      "accepting it: it echoes our frames"))
        elif known is not None and g > known:
            out.append(Log("info", f"Heartbeat restart on node {name}"))
        elif peer.generation is not None and not quiet:
            out.append(Log("warning", f"node {name}: sequence numbers of generation {g} "
                                      "started again: restarted from a restored state dir? "
                                      "accepting it: it echoes our frames"))
        restarted = peer.generation is not None and not quiet
        peer.generation = g
        for t in peer.links.values():
            t.forget_sequences()
        peer.newest = None
        peer.last_applied_at = None
        peer.forget_state()
        if g != self.recorded:
            self.recorded = g
            out.append(RecordPeerGeneration(name, g))
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
        new = self._peer_groups(peer, ev, out)
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
        if new is None:
            peer.groups = ()
            return notices
        old = peer.groups
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

    def _peer_groups(self, peer: PeerTracker, ev: FrameReceived, out: list[Action]
                     ) -> tuple[GroupView, ...] | None:
        """The peer's groups in our layout, or None when its configuration cannot be read
        (layouts.py); a mismatch is logged once per episode."""
        p = self.params
        keys = tuple(g.key for g in p.groups)
        groups = peer_groups(ev, out, fingerprint=p.fingerprint, keys=keys,
                             layouts=self.layouts, name=peer.name, view=peer.config)
        match = groups is not None
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
        return groups
