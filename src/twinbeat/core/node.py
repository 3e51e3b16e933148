"""`Node`: the facade of the sans-IO heartbeat machine. Events in, actions out, time passed in.

Owns: this node's phase (its lifecycle: states.PHASE_TRANSITIONS) and ping reachability, and
the composition of the parts that own everything else:

- membership.py — the peer and its links: frame acceptance, the link quorum, RTT, counters;
- foreign.py — a peer that runs heartbeat 3.0.6: answered in its protocol (hbsession.py, r1.py);
- groups.py — this node's resource groups: the claim rule, standby/takeover, split brain;
- heartbeat.py — when a heartbeat goes out, its sequence and timestamp;
- monitoring.py — fail counts: a failed resource restarts in place or gives its group up;
- fencing.py — whether the peer must be fenced before anything is taken over from it;
- reports.py — the mach_down and initial-acquisition progress lines;
- status.py — the snapshot and the status line; handoff.py — standby/takeover requests;
- ping.py — whether the ping nodes still answer (ipfail's isolation guard).

It routes each event to its owner and carries membership's notices (the peer died, returned,
holds a group, needs an answer) to the groups, the reports and the heartbeats; it decides
nothing about frames or groups itself. Theory of operation: states.py's docstring and docs/core.md.
Must not import trio, socket, os, time, subprocess, logging or twinbeat.config.

Every `feed` runs in four steps: (1) `_check_*` validate the event and raises `CoreMisuse`
before anything changes; (2) the timers due at `now` fire (links and the peer going dead,
failed-start backoff, failures expiring); (3) the event is applied by its owner; (4)
`_settle` moves the phase and the group states towards what ownership says until nothing
changes (a checked fixed point), then emits a heartbeat if the advertised state changed or
keepalive is due, and a StatusChanged if the status line changed.
"""

from __future__ import annotations

from .errors import CoreMisuse
from .events import (
    Action,
    Event,
    FailuresCleared,
    FenceAcknowledged,
    FenceFailed,
    ForeignHeartbeat,
    FrameReceived,
    GroupRestarted,
    GroupRestartFailed,
    GroupStarted,
    GroupStartFailed,
    GroupStopFailed,
    GroupStopped,
    LeftoversFound,
    LinkCarrier,
    Log,
    PeerFenced,
    PingReachability,
    Reconfigured,
    ResourceFailed,
    ShutdownRequested,
    StandbyRequested,
    Started,
    TakeoverRequested,
    Tick,
)
from .fencing import FenceEvent, Fencing
from .foreign import Foreign
from .groups import Groups
from .handoff import (
    HandoffPlan,
    HandoffRequest,
    check_which,
    plan_handoff,
    standby,
    standby_refusal,
    takeover,
    takeover_refusal,
)
from .heartbeat import Advertised, Heartbeats
from .membership import Membership
from .monitoring import Monitoring
from .notices import AnswerOwed, LivePeer, Notice, PeerDied, PeerHolds, PeerReturned
from .params import Params
from .pause import Pauses
from .ping import PingGuard
from .reconfigure import reconfigure_refusal, relink
from .records import Situation
from .regroup import after_result, regroup
from .reports import Reports
from .settling import SettleKey, settle_bound, settle_key
from .snapshot import Snapshot
from .states import (
    NODE_FLAG_TRANSLATED,
    PHASE_WIRE,
    Phase,
    PhaseTrigger,
    phase_step,
)
from .status import StatusLine, build_snapshot, status_line


class Node:
    """One twinbeat node's protocol state. See the module docstring."""

    def __init__(self, params: Params, now: float) -> None:
        params.validate()
        self._p = params
        self._now = now
        self._phase = Phase.BOOT
        self._ping = PingGuard(params)
        self._membership = Membership(params)
        self._foreign = Foreign(params)
        self._groups = Groups(params, now)
        self._monitoring = Monitoring(params)
        self._reports = Reports()
        self._pauses = Pauses(params.keepalive, now)
        self._heartbeats = Heartbeats(params, self._pauses)
        self._fencing = Fencing(params, now, self._pauses)
        self._settle_bound = settle_bound(len(params.groups))
        self._status = StatusLine()  # what the last StatusChanged said
        self._deadline: float | None = None
        self._deadline_known = False  # `_deadline` is up to date (a feed changes it)
        self._dirty = True  # something the settling rules read changed outside `_settle_key`
        self._settled: SettleKey | None = None  # `_settle_key` at the last fixed point

    # ------------------------------------------------------------------ public API

    def feed(self, event: Event, now: float) -> list[Action]:
        """Apply one event at time `now`; return the actions to carry out, in order."""
        self._check_when(event, now)
        self._check_event(event)
        if self._phase is Phase.GONE:
            return []  # only a repeated ShutdownRequested gets here: harmless
        out: list[Action] = []
        self._now = now
        self._deadline_known = False
        due = self._heartbeats.deadline(self._phase) is not None  # a feed every keepalive
        self._foreign.pause(self._pauses.fed(now, due=due, out=out), self._membership)
        self._heed(self._foreign.advance(now, self._membership, out), out)
        self._groups.advance(now, out)
        self._monitoring.advance(now, self._groups, out)
        if out or not isinstance(event, FrameReceived | Tick):
            self._dirty = True  # a timer fired, or an event the groups may react to
        heard = self._membership.heard
        self._apply(event, now, out)
        self._settle(now, out, heard=self._membership.heard != heard)
        return out

    def next_deadline(self) -> float | None:
        """The earliest time at which `Tick` would change something, or None (worked out
        once per feed: the daemon asks after every batch)."""
        if not self._deadline_known:
            self._deadline_known = True
            times = () if self._phase is Phase.GONE else (
                self._heartbeats.deadline(self._phase),
                self._membership.deadline(),
                self._foreign.deadline(),
                self._groups.deadline(),
                self._monitoring.deadline(self._groups),
                self._fencing.deadline(),
            )
            self._deadline = min((t for t in times if t is not None), default=None)
        return self._deadline

    def snapshot(self) -> Snapshot:
        return build_snapshot(self._phase, self._now, self._ping.ok, self._membership,
                              self._groups, monitoring=self._monitoring,
                              fencing=self._fencing.snapshot(), foreign=self._foreign,
                              pauses=self._pauses)

    def reconfigure_refusal(self, params: Params) -> str | None:
        """Why feeding `Reconfigured(params)` now would be refused, or None (changes nothing;
        reconfigure.py)."""
        return reconfigure_refusal(
            self._p, params, starting=self._phase in (Phase.BOOT, Phase.PROBING),
            leaving=self._phase in (Phase.LEAVING, Phase.GONE), membership=self._membership,
            fencing=self._fencing)

    def handoff_plan(self, request: HandoffRequest) -> HandoffPlan:
        """What feeding `request` now would move, or why it would be refused (changes nothing)."""
        situation = self._situation(self._now, self._membership.live_peer())
        return plan_handoff(request, self._p, self._groups, situation)

    # ------------------------------------------------------------------ validation

    def _check_when(self, ev: Event, now: float) -> None:
        if now < self._now:
            raise CoreMisuse(f"time went backwards ({now} < {self._now})")
        if self._phase is Phase.GONE and not isinstance(ev, ShutdownRequested):
            raise CoreMisuse(f"{type(ev).__name__} fed after the node is gone")

    def _check_event(self, ev: Event) -> None:
        match ev:
            case Started():
                phase_step(self._phase, PhaseTrigger.STARTED)
            case LeftoversFound(keys=keys):
                phase_step(self._phase, PhaseTrigger.LEFTOVERS)
                self._groups.check_keys(keys)
            case (FrameReceived(link=link) | ForeignHeartbeat(link=link)
                  | LinkCarrier(link=link)):
                self._membership.check_link(link)
                self._foreign.check(ev)
            case GroupStarted() | GroupStartFailed() | GroupStopped() | GroupStopFailed():
                self._groups.check_result(ev)
            case ResourceFailed() | GroupRestarted() | GroupRestartFailed() | FailuresCleared():
                self._monitoring.check(ev, self._groups)
            case StandbyRequested(which=which) | TakeoverRequested(which=which):
                check_which(which)
            case PingReachability() | Tick() | ShutdownRequested() | Reconfigured():
                self._check_command(ev)
            case PeerFenced() | FenceFailed() | FenceAcknowledged():
                self._fencing.check(ev)
            case _:
                raise CoreMisuse(f"not an event: {ev!r}")

    def _check_command(self, ev: PingReachability | Tick | ShutdownRequested
                       | Reconfigured) -> None:
        if isinstance(ev, PingReachability):
            self._ping.check()
        if isinstance(ev, Reconfigured):
            refusal = self.reconfigure_refusal(ev.params)
            if refusal is not None:
                raise CoreMisuse(f"Reconfigured refused: {refusal}")

    # ------------------------------------------------------------------ events

    def _apply(self, ev: Event, now: float, out: list[Action]) -> None:
        match ev:
            case Started():
                self._phase = phase_step(self._phase, PhaseTrigger.STARTED)
            case LeftoversFound(keys=keys):
                self._phase = phase_step(self._phase, PhaseTrigger.LEFTOVERS)
                self._groups.leftovers(keys, now, out)
            case FrameReceived() | ForeignHeartbeat() | LinkCarrier():
                self._on_link(ev, now, out)
            case GroupStarted() | GroupStartFailed() | GroupStopped() | GroupStopFailed():
                self._groups.on_result(ev, now, out)
                after_result(self._groups, ev.key, now, out)
            case StandbyRequested() | TakeoverRequested():
                self._on_request(ev, out)
            case ResourceFailed() | GroupRestarted() | GroupRestartFailed() | FailuresCleared():
                self._on_monitoring(ev, now, out)
            case PingReachability() | ShutdownRequested() | Reconfigured():
                self._on_command(ev, now, out)
            case PeerFenced() | FenceFailed() | FenceAcknowledged():
                self._on_fence(ev, now, out)

    def _on_command(self, ev: PingReachability | ShutdownRequested | Reconfigured, now: float,
                    out: list[Action]) -> None:
        if isinstance(ev, PingReachability):
            self._ping.report(ev.reachable, out)
        elif isinstance(ev, Reconfigured):
            self._reconfigure(ev.params, now, out)
        elif self._phase is Phase.LEAVING:
            out.append(Log("debug", "Shutdown already in progress"))
        else:
            self._phase = phase_step(self._phase, PhaseTrigger.SHUTDOWN)
            out.append(Log("info", "Heartbeat shutdown in progress: giving up all resource "
                                   "groups"))

    def _on_monitoring(self, ev: ResourceFailed | GroupRestarted | GroupRestartFailed
                       | FailuresCleared, now: float, out: list[Action]) -> None:
        self._monitoring.on_event(ev, now, self._groups, self._membership.live_peer(), out)
        if isinstance(ev, GroupRestarted | GroupRestartFailed):
            after_result(self._groups, ev.key, now, out)

    def _on_link(self, ev: FrameReceived | ForeignHeartbeat | LinkCarrier, now: float,
                 out: list[Action]) -> None:
        """A frame, a heartbeat 3.0.6 message, or a link's physical layer (LinkCarrier)."""
        if isinstance(ev, ForeignHeartbeat):
            self._foreign.on_message(ev, now, out, groups=self._groups, phase=self._phase,
                                     membership=self._membership)
        elif isinstance(ev, LinkCarrier):
            self._heed(self._foreign.carrier(ev, self._heartbeats.last_ts, self._membership,
                                             out), out)
        elif self._foreign.hears(ev):
            self._heed(self._membership.on_frame(ev, now, self._heartbeats.sent(now), out), out)

    def _heed(self, notices: list[Notice], out: list[Action]) -> None:
        """Carry membership's notices to their owners."""
        for notice in notices:
            match notice:
                case PeerDied(peer=peer, busy=busy, was_alive=was_alive):
                    self._dirty = True
                    self._groups.peer_held(peer, busy)
                    self._groups.peer_died(was_alive)
                    keys = [g.spec.key for g in self._groups.records if g.index in busy]
                    self._reports.peer_died(peer, keys, was_alive)
                    self._fencing.peer_died(notice, self._groups.advertised(), self._now, out)
                case PeerReturned(peer=peer):
                    self._dirty = True
                    self._reports.peer_returned(peer)
                    self._groups.peer_returned()
                    self._fencing.peer_returned(self._now, out)
                case PeerHolds(peer=peer, indices=indices):
                    self._groups.peer_held(peer, indices)
                case AnswerOwed():
                    self._heartbeats.answer_now()

    def _on_request(self, ev: StandbyRequested | TakeoverRequested, out: list[Action]) -> None:
        active = self._phase is Phase.ACTIVE
        if active and self._foreign.in_charge(self._membership.live_peer() is not None):
            self._foreign.request(ev, self._now, out)
        elif isinstance(ev, StandbyRequested):
            refusal = standby_refusal(active, self._membership.live_peer())
            standby(self._groups, ev.which, refusal, out)
        else:
            takeover(self._groups, ev.which, takeover_refusal(active), out)

    def _on_fence(self, ev: FenceEvent, now: float, out: list[Action]) -> None:
        """A fence result or an administrator's confirmation; a peer now known down is dead
        to membership too, and nothing it sent before can revive it."""
        alive = self._membership.live_peer() is not None
        if self._fencing.on_event(ev, now, alive, out):
            self._heed(self._membership.fenced(self._heartbeats.last_ts, out), out)

    def _reconfigure(self, params: Params, now: float, out: list[Action]) -> None:
        """A reload, each part to its owner (reconfigure.py); the same params change nothing."""
        if params == self._p:
            return
        self._ping.reconfigure(params)
        self._p = params
        relink(self._membership, params, now)
        self._foreign.reconfigure(params)
        self._heartbeats.reconfigure(params)
        self._pauses.keepalive = params.keepalive
        regroup(self._groups, params, now, out)
        self._monitoring.reconfigure(params)
        self._fencing.reconfigure(params, now, out)
        self._settle_bound = settle_bound(len(params.groups))
        out.append(Log("info", "Configuration reloaded"))

    # ------------------------------------------------------------------ settling

    def _situation(self, now: float, peer: LivePeer | None) -> Situation:
        return Situation(now=now, active=self._phase is Phase.ACTIVE, ping_ok=self._ping.ok,
                         last_ts=self._heartbeats.last_ts, peer=peer,
                         takeover_ok=peer is not None or self._fencing.takeover_ok(),
                         held_off=self._foreign.holds_off(peer is not None),
                         negotiation=self._foreign.negotiation(peer is not None))

    def _settle_key(self, peer: LivePeer | None) -> SettleKey:
        return settle_key(self._advertised(), self._phase, self._ping.ok,
                          self._fencing.takeover_ok(), groups=self._groups, peer=peer)

    def _settle(self, now: float, out: list[Action], *, heard: bool = False) -> None:
        peer = self._membership.live_peer()  # the peer's state is fixed while settling
        # At a fixed point a pass changes nothing and says nothing (its rules are edge-
        # triggered), so a frame that changed none of their inputs skips the passes: the
        # steady state costs a link refresh, not a settle (issue #17). Not beside a peer that
        # spoke heartbeat's protocol: r1.py's rules read more than the key.
        key = self._settle_key(peer)
        moved = self._dirty or self._foreign.spoke or key != self._settled
        if moved:
            self._settle_passes(now, peer, out)
            key = self._settle_key(peer)
            self._settled, self._dirty = key, False
        active = self._phase is Phase.ACTIVE
        self._fencing.step(now, active and self._ping.may_act(), out)
        self._foreign.speak(now, self._phase, peer is not None, out)
        state = key[0]  # `_advertised()`: nothing since the key changes it
        if self._heartbeats.due(self._phase, now, state, heard=heard):
            layout = self._membership.outgoing()
            out.extend(self._heartbeats.send(self._phase, now, state, self._membership.echoes(
                now), None if layout is None else layout[0]))
            self._membership.speaking(now)  # initdead counts from our first heartbeat
        self._status.update(moved, out, self.status, foreign=self._foreign, groups=self._groups)

    def status(self) -> str:
        """The status line of this node's state now: what the last `StatusChanged` said."""
        return status_line(self._phase, self._membership, self._groups,
                           monitoring=self._monitoring, fencing=self._fencing.status(),
                           foreign=self._foreign)

    def _settle_passes(self, now: float, peer: LivePeer | None, out: list[Action]) -> None:
        for _ in range(self._settle_bound):
            before = (self._advertised(), self._phase)
            self._settle_pass(now, peer, out)
            if (self._advertised(), self._phase) == before:
                return
        raise CoreMisuse(f"settling did not converge within {self._settle_bound} passes: "
                         "a transition rule loops (a bug in the core, not the caller's)")

    def _settle_pass(self, now: float, peer: LivePeer | None, out: list[Action]) -> None:
        if self._phase is Phase.CLEANING and not self._groups.has_leftovers():
            self._phase = phase_step(self._phase, PhaseTrigger.CLEANED)
        if self._phase is Phase.JOINING and (self._membership.comms_up()
                                             or self._foreign.speaking):
            self._phase = phase_step(self._phase, PhaseTrigger.COMMS_UP)
            out.append(Log("info", "Comms up: local status now active"))
            self._foreign.comms_up(now, out)
        if self._phase is Phase.LEAVING and self._foreign.leave(now, out,
                                                               self._groups.step_leaving):
            self._phase = phase_step(self._phase, PhaseTrigger.RELEASED)
        if self._phase is Phase.ACTIVE:
            situation = self._situation(now, peer)
            if not self._foreign.step(situation, self._groups, out):
                self._groups.step(situation, out)
            self._reports.step(self._groups, situation, out)

    def _advertised(self) -> Advertised:
        flags = self._ping.flags()
        layout = self._membership.outgoing()  # the peer runs our previous files: theirs
        if layout is not None:
            return (int(PHASE_WIRE[self._phase]), flags | NODE_FLAG_TRANSLATED,
                    self._groups.advertised(layout[1]))
        return int(PHASE_WIRE[self._phase]), flags, self._groups.advertised()
