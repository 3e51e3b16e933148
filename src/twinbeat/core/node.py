"""`Node`: the sans-IO heartbeat machine. Events in, actions out, time passed in.

Owns: the orchestration of one node's state — feeding events through validation, timers,
liveness (liveness.py), ownership (ownership.py) and the transition tables (states.py), and
producing actions and snapshots. Theory of operation: states.py's docstring and docs/core.md.
Must not import trio, socket, os, time, subprocess, logging or twinbeat.config.

Every `feed` runs in four steps: (1) `_check` validates the event and raises `CoreMisuse`
before anything changes; (2) `_advance` fires the timers due at `now` (links and peers going
dead, failed-start backoff); (3) the event is applied; (4) `_settle` moves phases and group
states towards what ownership says, then emits a heartbeat if the advertised state changed
or keepalive is due, and a StatusChanged if the status line changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import CoreMisuse
from .events import (
    Action,
    Announce,
    Event,
    FrameReceived,
    FrameRejected,
    GroupStarted,
    GroupStartFailed,
    GroupStopFailed,
    GroupStopped,
    LeftoversFound,
    LinkEcho,
    Log,
    PingReachability,
    SendHeartbeat,
    ShutdownComplete,
    ShutdownRequested,
    StandbyRequested,
    Started,
    StartGroup,
    StatusChanged,
    StopGroup,
    TakeoverRequested,
    Tick,
)
from .liveness import GroupView, LinkTracker, PeerTracker
from .ownership import NodeView, desired_holder, rank
from .params import GroupSpec, Params
from .snapshot import (
    GroupSnapshot,
    LinkCounters,
    LinkSnapshot,
    PeerLinkSnapshot,
    PeerSnapshot,
    Snapshot,
)
from .states import (
    BUSY,
    GROUP_WIRE,
    NODE_FLAG_PING_CONFIGURED,
    NODE_FLAG_PING_OK,
    PHASE_WIRE,
    SENDING_PHASES,
    WIRE_NODE_STATE_NAMES,
    GroupLocal,
    Phase,
    WireGroupState,
    WireNodeState,
    decode_group,
    encode_group,
    group_step,
    phase_step,
    ts_after,
)

U32 = 0xFFFFFFFF
# A link is dead when silent for deadtime + grace: a heartbeat arriving exactly at the
# deadline must not flap the link (DESIGN §9). The grace is GRACE, or half a keepalive when
# that is shorter, so that sub-second presets (deadtime 40ms) are not stretched by it.
GRACE = 0.05
# Failed start: wait BACKOFF_BASE * deadtime * 2**(failures-1) (capped) before retrying here.
BACKOFF_BASE = 2.0
BACKOFF_CAP = 8.0
WHICH = ("local", "foreign", "all")
MAX_SETTLE_PASSES = 4


@dataclass
class _Group:
    spec: GroupSpec
    index: int
    state: GroupLocal = GroupLocal.NONE
    yield_: bool = False
    want: bool = False
    changed_at: float = 0.0
    claim_prev_ts: int | None = None  # our last timestamp sent before the claim
    failures: int = 0
    retry_at: float | None = None
    took_over_from: str | None = None
    last_peer_holder: str | None = None
    start_order: int = 0
    leftover: bool = False
    shutdown_retried: bool = False
    conflict: set[str] = field(default_factory=set)


class Node:
    """One twinbeat node's protocol state. See the module docstring."""

    def __init__(self, params: Params, now: float) -> None:
        params.validate()
        self._p = params
        self._now = now
        self._phase = Phase.BOOT
        self._groups = [
            _Group(spec=g, index=i, changed_at=now) for i, g in enumerate(params.groups)
        ]
        self._by_key = {g.spec.key: g for g in self._groups}
        self._peers = {
            name: PeerTracker(name=name, links={ln: LinkTracker(link=ln) for ln in params.links})
            for name in params.peers
        }
        self._declared_dead: set[str] = set()
        self._unattributed: dict[str, dict[str, int]] = {ln: {} for ln in params.links}
        self._started_at: float | None = None
        self._ping_ok = True  # until told otherwise (PingReachability)
        self._sequence = 0
        self._next_send: float | None = None
        self._last_sent: tuple[int, int, bytes] | None = None
        self._first_ts: int | None = None
        self._last_ts: int | None = None
        self._urgent = False
        self._start_counter = 0
        self._mach_down: dict[str, set[str]] = {}
        self._initial_logged = False
        self._final_sent = False
        self._status = ""

    # ------------------------------------------------------------------ public API

    def feed(self, event: Event, now: float) -> list[Action]:
        """Apply one event at time `now`; return the actions to carry out, in order."""
        self._check(event, now)
        if self._phase is Phase.GONE:
            return []  # only a repeated ShutdownRequested gets here: harmless
        out: list[Action] = []
        self._now = now
        self._advance(now, out)
        self._apply(event, now, out)
        self._settle(now, out)
        return out

    def next_deadline(self) -> float | None:
        """The earliest time at which `Tick` would change something, or None."""
        if self._phase is Phase.GONE:
            return None
        times: list[float] = []
        if self._phase in SENDING_PHASES and self._next_send is not None:
            times.append(self._next_send)
        for peer in self._peers.values():
            for lt in peer.links.values():
                due = self._link_deadline(lt)
                if due is not None:
                    times.append(due)
        times.extend(g.retry_at for g in self._groups if g.retry_at is not None)
        return min(times) if times else None

    def snapshot(self) -> Snapshot:
        now = self._now
        peers = []
        for p in self._peers.values():
            links = tuple(
                PeerLinkSnapshot(
                    name=lt.link,
                    up=lt.up,
                    last_heard_age=None if lt.last_heard is None else now - lt.last_heard,
                    rtt=lt.rtt,
                    max_gap=lt.max_gap,
                    deadtime_margin=self._p.deadtime - lt.max_gap,
                    counters=LinkCounters(
                        frames_ok=lt.frames_ok,
                        duplicates=lt.duplicates,
                        stale=lt.stale,
                        replayed=lt.replayed,
                        late=lt.late,
                        rejected=dict(lt.rejected),
                    ),
                )
                for lt in p.links.values()
            )
            state = "unknown" if p.node_state is None else WIRE_NODE_STATE_NAMES[p.node_state]
            if not p.alive and p.name in self._declared_dead:
                state = "dead"
            ping_ok = None
            if p.node_flags & NODE_FLAG_PING_CONFIGURED:
                ping_ok = bool(p.node_flags & NODE_FLAG_PING_OK)
            peers.append(
                PeerSnapshot(
                    name=p.name,
                    alive=p.alive,
                    generation=p.generation,
                    state=state,
                    last_heard_age=None if p.last_heard is None else now - p.last_heard,
                    config_match=p.config_match,
                    ping_ok=ping_ok,
                    links=links,
                )
            )
        return Snapshot(
            node=self._p.node,
            state=self._phase.value,
            generation=self._p.generation,
            now=now,
            ping_ok=self._ping_ok if self._p.ping_configured else None,
            peers=tuple(peers),
            links=tuple(
                LinkSnapshot(name=ln, rejected=dict(r)) for ln, r in self._unattributed.items()
            ),
            groups=tuple(
                GroupSnapshot(
                    key=g.spec.key,
                    primary=g.spec.primary,
                    holder=self._holder(g),
                    local_state=g.state.value,
                    standby=g.yield_,
                    takeover=g.want,
                    last_change=g.changed_at,
                )
                for g in self._groups
            ),
        )

    # ------------------------------------------------------------------ validation

    def _check(self, ev: Event, now: float) -> None:
        if now < self._now:
            raise CoreMisuse(f"time went backwards ({now} < {self._now})")
        if self._phase is Phase.GONE and not isinstance(ev, ShutdownRequested):
            raise CoreMisuse(f"{type(ev).__name__} fed after the node is gone")
        match ev:
            case Started():
                phase_step(self._phase, "started")
            case LeftoversFound(keys=keys):
                phase_step(self._phase, "leftovers")
                for k in keys:
                    self._group(k)
            case FrameReceived(link=link) | FrameRejected(link=link):
                if link not in self._p.links:
                    raise CoreMisuse(f"unknown link {link!r}")
            case GroupStarted(key=k) | GroupStartFailed(key=k):
                if self._group(k).state is not GroupLocal.STARTING:
                    raise CoreMisuse(f"{type(ev).__name__} for {k}, which is not starting")
            case GroupStopped(key=k) | GroupStopFailed(key=k):
                if self._group(k).state is not GroupLocal.STOPPING:
                    raise CoreMisuse(f"{type(ev).__name__} for {k}, which is not stopping")
            case StandbyRequested(which=w) | TakeoverRequested(which=w):
                if w not in WHICH:
                    raise CoreMisuse(f"which must be one of {WHICH}, not {w!r}")
            case PingReachability():
                if not self._p.ping_configured:
                    raise CoreMisuse("PingReachability without ping nodes configured")
            case Tick() | ShutdownRequested():
                pass
            case _:
                raise CoreMisuse(f"not an event: {ev!r}")

    def _group(self, key: str) -> _Group:
        try:
            return self._by_key[key]
        except KeyError:
            raise CoreMisuse(f"unknown group {key!r}") from None

    # ------------------------------------------------------------------ timers

    def _advance(self, now: float, out: list[Action]) -> None:
        for peer in self._peers.values():
            quiet = peer.node_state is WireNodeState.GONE
            for lt in peer.links.values():
                due = self._link_deadline(lt)
                if due is not None and now >= due:
                    lt.up = False
                    level = "info" if quiet else "warning"
                    out.append(Log(level, f"Link {peer.name}:{lt.link} dead."))
            all_dead = all(lt.up is False for lt in peer.links.values())
            if all_dead and peer.name not in self._declared_dead:
                self._declare_dead(peer, out)
        for g in self._groups:
            if g.retry_at is not None and now >= g.retry_at:
                g.retry_at = None
                if g.state is GroupLocal.FAILED:
                    self._set(g, group_step(g.state, "retry"))
                    out.append(Log("info", f"Resource group {g.spec.key}: start may be retried"))

    def _link_deadline(self, lt: LinkTracker) -> float | None:
        """When this (peer, link) goes dead if nothing arrives: deadtime (initdead before the
        first frame) after it was last heard, plus GRACE."""
        if lt.up and lt.last_heard is not None:
            return lt.last_heard + self._p.deadtime + min(GRACE, self._p.keepalive / 2)
        if lt.up is None and self._started_at is not None:
            return self._started_at + self._p.initdead + min(GRACE, self._p.keepalive / 2)
        return None

    def _declare_dead(self, peer: PeerTracker, out: list[Action]) -> None:
        was_alive = peer.alive
        quiet = peer.node_state is WireNodeState.GONE
        held = {
            self._groups[i].spec.key
            for i, gv in enumerate(peer.groups)
            if gv.state in BUSY
        }
        peer.alive = False
        self._declared_dead.add(peer.name)
        out.append(Log("info" if quiet else "warning", f"node {peer.name}: is dead"))
        for key in held:
            self._by_key[key].last_peer_holder = peer.name
        if was_alive:
            self._mach_down[peer.name] = held
        peer.forget_state()
        self._urgent = True

    # ------------------------------------------------------------------ events

    def _apply(self, ev: Event, now: float, out: list[Action]) -> None:
        match ev:
            case Started():
                self._phase = phase_step(self._phase, "started")
                self._started_at = now
            case LeftoversFound(keys=keys):
                self._phase = phase_step(self._phase, "leftovers")
                found = set(keys)
                for g in reversed(self._groups):
                    if g.spec.key in found:
                        out.append(
                            Log("warning", f"Resource group {g.spec.key} found running at "
                                           "start-up: stopping it before joining")
                        )
                        self._set(g, group_step(g.state, "leftover"))
                        g.leftover = True
                        out.append(StopGroup(g.spec.key))
            case FrameReceived():
                self._on_frame(ev, now, out)
            case FrameRejected(link=link, reason=reason, peer=name):
                peer = self._peers.get(name) if name is not None else None
                counts = peer.links[link].rejected if peer else self._unattributed[link]
                counts[reason] = counts.get(reason, 0) + 1
            case GroupStarted(key=k):
                g = self._by_key[k]
                self._set(g, group_step(g.state, "started"))
                g.failures = 0
                g.yield_ = g.want = False
                self._start_counter += 1
                g.start_order = self._start_counter
                src = f" (took over from {g.took_over_from})" if g.took_over_from else ""
                out.append(Log("info", f"Resource group {k} acquired{src}"))
                g.took_over_from = None
            case GroupStartFailed(key=k, reason=reason, rolled_back=False):
                g = self._by_key[k]
                self._set(g, group_step(g.state, "rollback_failed"))
                g.want = False
                out.append(
                    Log("critical", f"Resource group {k} failed to start and could not be "
                                    f"rolled back ({reason}): it stays claimed by this node; "
                                    "manual intervention required!")
                )
            case GroupStartFailed(key=k, reason=reason):
                g = self._by_key[k]
                self._set(g, group_step(g.state, "start_failed"))
                g.failures += 1
                g.want = False
                factor = min(BACKOFF_BASE * 2 ** (g.failures - 1), BACKOFF_CAP)
                g.retry_at = now + factor * self._p.deadtime
                wait = factor * self._p.deadtime
                out.append(
                    Log("error", f"Resource group {k} failed to start ({reason}): giving it up "
                                 f"to the peer; not retrying here for {wait:g}s")
                )
            case GroupStopped(key=k):
                g = self._by_key[k]
                self._set(g, group_step(g.state, "stopped"))
                g.leftover = False
                out.append(Log("info", f"Resource group {k} released"))
            case GroupStopFailed(key=k, reason=reason):
                g = self._by_key[k]
                self._set(g, group_step(g.state, "stop_failed"))
                g.leftover = False
                out.append(
                    Log("critical", f"Resource group {k} failed to stop ({reason}): it stays "
                                    "claimed by this node; manual intervention required!")
                )
            case StandbyRequested(which=w):
                self._on_standby(w, out)
            case TakeoverRequested(which=w):
                self._on_takeover(w, out)
            case PingReachability(reachable=r):
                if r != self._ping_ok:
                    self._ping_ok = r
                    if r:
                        out.append(Log("info", "Ping nodes reachable again"))
                    else:
                        out.append(Log("warning", "No ping node reachable: this node may be "
                                                  "isolated; not acquiring resource groups"))
            case ShutdownRequested():
                if self._phase is Phase.LEAVING:
                    out.append(Log("debug", "Shutdown already in progress"))
                else:
                    self._phase = phase_step(self._phase, "shutdown")
                    out.append(Log("info", "Heartbeat shutdown in progress: giving up all "
                                           "resource groups"))
            case Tick():
                pass

    def _selected(self, which: str) -> list[_Group]:
        me = self._p.node
        return [
            g for g in self._groups
            if which == "all" or (which == "local") == (g.spec.primary == me)
        ]

    def _live_active_peers(self) -> list[PeerTracker]:
        return [
            p for p in self._peers.values()
            if p.alive and p.config_match and p.node_state is WireNodeState.ACTIVE
        ]

    def _on_standby(self, which: str, out: list[Action]) -> None:
        if self._phase is not Phase.ACTIVE or not self._live_active_peers():
            out.append(Log("warning", f"Standby request [{which}] refused: "
                                      "no other active node to take the resource groups"))
            return
        for g in self._selected(which):
            g.yield_, g.want = True, False
        out.append(Log("info", f"Going standby [{which}]."))

    def _on_takeover(self, which: str, out: list[Action]) -> None:
        if self._phase is not Phase.ACTIVE:
            out.append(Log("warning", f"Takeover request [{which}] refused: node not active"))
            return
        for g in self._selected(which):
            g.yield_ = False
            g.want = g.state is not GroupLocal.HELD
        out.append(Log("info", f"Takeover requested [{which}]."))

    # ------------------------------------------------------------------ frames

    def _on_frame(self, ev: FrameReceived, now: float, out: list[Action]) -> None:
        peer = self._peers.get(ev.peer)
        if peer is None:
            counts = self._unattributed[ev.link]
            reason = "own" if ev.peer == self._p.node else "unknown-peer"
            counts[reason] = counts.get(reason, 0) + 1
            return
        lt = peer.links[ev.link]
        if peer.generation is not None and ev.generation < peer.generation:
            lt.replayed += 1
            return
        restarted = False
        if peer.generation is None or ev.generation > peer.generation:
            if peer.generation is not None:
                out.append(Log("info", f"Heartbeat restart on node {peer.name}"))
                restarted = True
            peer.generation = ev.generation
            for t in peer.links.values():
                t.forget_sequences()
            peer.applied_seq = 0
            peer.last_applied_at = None
            peer.forget_state()
        if lt.is_replay(ev.sequence):
            lt.replayed += 1
            return
        lt.remember(ev.sequence)
        # Link liveness: any non-replayed frame refreshes its link (heartbeat §4).
        if lt.last_heard is not None:
            gap = now - lt.last_heard
            lt.max_gap = max(lt.max_gap, gap)
            if gap > self._p.warntime:
                lt.late += 1
        lt.last_heard = now
        lt.frames_ok += 1
        if lt.up is not True:
            lt.up = True
            out.append(Log("info", f"Link {peer.name}:{ev.link} up."))
        if lt.echo_ts == 0 or ts_after(ev.timestamp_ms, lt.echo_ts):
            lt.echo_ts = ev.timestamp_ms
            lt.echo_at = now
        if ev.echo_ms and self._valid_echo(ev.echo_ms):
            rtt_ms = (self._ts(now) - ev.echo_ms - ev.echo_delay_ms) & U32
            if rtt_ms < 0x80000000:
                lt.rtt = rtt_ms / 1000.0
            if peer.echo_max is None or ts_after(ev.echo_ms, peer.echo_max):
                peer.echo_max = ev.echo_ms
        peer.last_heard = now
        if not peer.alive:
            peer.alive = True
            if peer.name in self._declared_dead:
                self._declared_dead.discard(peer.name)
                self._mach_down.pop(peer.name, None)
                if peer.ever_alive and not restarted:
                    out.append(Log("warning", f"Cluster node {peer.name} returning after "
                                              "partition."))
            peer.ever_alive = True
            self._urgent = True
        # State: apply only what is newer than what was already applied.
        if ev.sequence <= peer.applied_seq:
            others = (t for t in peer.links.values() if t is not lt)
            if any(ev.sequence in t.seen for t in others):
                lt.duplicates += 1
            else:
                lt.stale += 1
            return
        if peer.last_applied_at is not None:
            interval = now - peer.last_applied_at
            if interval > self._p.warntime:
                out.append(Log("warning", f"Late heartbeat: Node {peer.name}: interval "
                                          f"{round(interval * 1000)} ms"))
        peer.applied_seq = ev.sequence
        peer.last_applied_at = now
        self._apply_state(peer, ev, out)

    def _apply_state(self, peer: PeerTracker, ev: FrameReceived, out: list[Action]) -> None:
        match = ev.fingerprint == self._p.fingerprint and len(ev.groups) == len(self._groups)
        if not match:
            if not peer.mismatch_logged:
                out.append(
                    Log("error", f"Configuration mismatch with node {peer.name}: fingerprint "
                                 f"{ev.fingerprint:08x} vs {self._p.fingerprint:08x}, "
                                 f"{len(ev.groups)} vs {len(self._groups)} groups; no resource "
                                 "handoff with it until haresources and node lists agree")
                )
                peer.mismatch_logged = True
        elif peer.mismatch_logged:
            out.append(Log("info", f"Configuration of node {peer.name} now matches"))
            peer.mismatch_logged = False
        peer.config_match = match
        try:
            state = WireNodeState(ev.node_state)
        except ValueError:
            state = WireNodeState.JOINING  # unknown: treat as not active (never a candidate)
        if state is not peer.node_state:
            if state is WireNodeState.LEAVING:
                out.append(Log("info", f"Received shutdown notice from '{peer.name}'."))
            out.append(Log("info", f"Status update for node {peer.name}: status "
                                   f"{WIRE_NODE_STATE_NAMES[state]}"))
            self._urgent = True
        peer.node_state = state
        peer.node_flags = ev.node_flags
        if not match:
            peer.groups = ()
            return
        old = peer.groups
        new = []
        for i, byte in enumerate(ev.groups):
            st, y, w = decode_group(byte)
            gv = GroupView(state=st, yield_=y, want=w)
            # Only a group the peer really held counts for "took over from": a claim also
            # shows as STARTING, and a lost claim must not be reported as a takeover.
            if st in (WireGroupState.HELD, WireGroupState.STOPPING):
                self._groups[i].last_peer_holder = peer.name
            if i < len(old) and old[i] != gv and st is WireGroupState.STARTING:
                self._urgent = True  # answer a claim at once: it is waiting for our echo
            if not old and st is WireGroupState.STARTING:
                self._urgent = True
            new.append(gv)
        peer.groups = tuple(new)

    def _valid_echo(self, echo: int) -> bool:
        """An echo of a timestamp this incarnation actually sent."""
        if self._first_ts is None or self._last_ts is None:
            return False
        return not ts_after(self._first_ts, echo) and not ts_after(echo, self._last_ts)

    @staticmethod
    def _ts(now: float) -> int:
        return int(now * 1000) & U32

    # ------------------------------------------------------------------ settling

    def _set(self, g: _Group, state: GroupLocal) -> None:
        if state is not g.state:
            g.state = state
            g.changed_at = self._now

    def _settle(self, now: float, out: list[Action]) -> None:
        for _ in range(MAX_SETTLE_PASSES):
            before = self._advertised()
            phase = self._phase
            self._step_phase(out)
            if self._phase is Phase.ACTIVE:
                for g in self._groups:
                    self._step_group(g, out)
                self._step_reports(out)
            if self._advertised() == before and self._phase is phase:
                break
        self._maybe_send(now, out)
        status = self._status_text()
        if status != self._status:
            self._status = status
            out.append(StatusChanged(status))

    def _step_phase(self, out: list[Action]) -> None:
        if self._phase is Phase.CLEANING and not any(g.leftover for g in self._groups):
            self._phase = phase_step(self._phase, "cleaned")
        if self._phase is Phase.JOINING and all(
            p.alive or p.name in self._declared_dead for p in self._peers.values()
        ):
            self._phase = phase_step(self._phase, "comms_up")
            out.append(Log("info", "Comms up: local status now active"))
        if self._phase is Phase.LEAVING:
            self._step_leaving(out)

    def _step_leaving(self, out: list[Action]) -> None:
        for g in self._groups:
            if g.state is GroupLocal.CLAIMING:
                self._set(g, group_step(g.state, "withdraw"))
        releasable = [
            g for g in self._groups
            if g.state is GroupLocal.HELD
            or (g.state is GroupLocal.CRITICAL and not g.shutdown_retried)
        ]
        for g in sorted(releasable, key=lambda g: g.start_order, reverse=True):
            if g.state is GroupLocal.CRITICAL:
                g.shutdown_retried = True
            self._release(g, out)
        busy = (GroupLocal.STARTING, GroupLocal.STOPPING, GroupLocal.HELD)
        if not any(g.state in busy for g in self._groups):
            self._phase = phase_step(self._phase, "released")

    def _release(self, g: _Group, out: list[Action]) -> None:
        self._set(g, group_step(g.state, "release"))
        out.append(Log("info", f"releasing resource group: {g.spec.key}"))
        out.append(StopGroup(g.spec.key))

    def _views(self, g: _Group) -> list[NodeView]:
        views = [
            NodeView(
                name=self._p.node,
                active=self._phase is Phase.ACTIVE,
                ping_configured=self._p.ping_configured,
                ping_ok=self._ping_ok,
                group=GroupView(GROUP_WIRE[g.state], g.yield_, g.want),
            )
        ]
        for p in self._peers.values():
            if p.alive and p.config_match and p.node_state is not None and p.groups:
                views.append(
                    NodeView(
                        name=p.name,
                        active=p.node_state is WireNodeState.ACTIVE,
                        joining=p.node_state is WireNodeState.JOINING,
                        ping_configured=bool(p.node_flags & NODE_FLAG_PING_CONFIGURED),
                        ping_ok=bool(p.node_flags & NODE_FLAG_PING_OK),
                        group=p.groups[g.index],
                    )
                )
        return views

    def _step_group(self, g: _Group, out: list[Action]) -> None:
        me = self._p.node
        primary = g.spec.primary
        live = [p for p in self._peers.values() if p.alive]
        # No acquiring on a mismatched peer's account, nor while isolated (ping guard).
        blocked = any(not p.config_match for p in live) or (
            self._p.ping_configured and not self._ping_ok
        )
        views = self._views(g)
        # A takeover request from a peer that may acquire: stand by for that group.
        for v in views[1:]:
            if (
                v.group.want and v.active and not v.isolated
                and v.group.state not in (WireGroupState.FAILED, WireGroupState.CRITICAL)
                and (not g.want or rank(primary, v.name) < rank(primary, me))
                and not g.yield_
            ):
                g.yield_, g.want = True, False
                out.append(Log("info", f"Node {v.name} requested takeover of {g.spec.key}: "
                                       "standing by for it"))
                views = self._views(g)
        want = desired_holder(primary, views, self._p.auto_failback)
        peer_states = [p.groups[g.index].state for p in live if p.groups]
        busy_peer = any(s in BUSY for s in peer_states)
        if g.state is GroupLocal.NONE and want == me and not busy_peer and not blocked:
            self._set(g, group_step(g.state, "claim"))
            g.claim_prev_ts = self._last_ts
            if g.took_over_from is None:
                g.took_over_from = g.last_peer_holder
        if g.state is GroupLocal.CLAIMING:
            settled = (WireGroupState.HELD, WireGroupState.STOPPING, WireGroupState.CRITICAL)
            if want != me or blocked or any(s in settled for s in peer_states):
                self._set(g, group_step(g.state, "withdraw"))
                g.took_over_from = None
            elif self._acked(g, live):
                self._set(g, group_step(g.state, "acked"))
                out.append(Log("info", f"acquiring resource group: {g.spec.key}"))
                out.append(StartGroup(g.spec.key))
        elif g.state is GroupLocal.HELD:
            others = {p.name for p in live if p.groups and p.groups[g.index].state in
                      (WireGroupState.HELD, WireGroupState.STARTING)}
            new = others - g.conflict
            if new and any(p.groups[g.index].state is WireGroupState.HELD
                           for p in live if p.name in new and p.groups):
                keeper = want if want is not None else me
                out.append(Log("warning", f"Resource group {g.spec.key} is held by "
                                          f"{', '.join(sorted(new))} too (split brain): "
                                          f"{keeper} keeps it"))
                g.conflict |= new
            if want is not None and want != me:
                g.conflict.clear()
                self._release(g, out)
            elif g.conflict and not any(
                p.groups and p.groups[g.index].state in BUSY
                for p in live if p.name in g.conflict
            ):
                # The other holder finished stopping (its address is gone): re-announce ours.
                g.conflict.clear()
                out.append(Log("info", f"Split brain on {g.spec.key} healed: re-announcing"))
                out.append(Announce(g.spec.key))

    def _acked(self, g: _Group, live: list[PeerTracker]) -> bool:
        """Every live peer has seen our claim and shows itself idle for the group."""
        for p in live:
            if not p.groups or p.groups[g.index].state in BUSY:
                return False
            if p.node_state in (WireNodeState.LEAVING, WireNodeState.GONE):
                continue  # leaving nodes never start anything
            if p.echo_max is None:
                return False
            if g.claim_prev_ts is not None and not ts_after(p.echo_max, g.claim_prev_ts):
                return False
        return True

    def _step_reports(self, out: list[Action]) -> None:
        for name in list(self._mach_down):
            pending = self._mach_down[name]
            for key in list(pending):
                g = self._by_key[key]
                done = (GroupLocal.HELD, GroupLocal.FAILED, GroupLocal.CRITICAL)
                if g.state in done or (g.state is GroupLocal.NONE and self._held_by_peer(g)):
                    pending.discard(key)
            if not pending:
                del self._mach_down[name]
                out.append(Log("info", f"mach_down takeover complete for node {name}."))
        if not self._initial_logged:
            unsettled = (GroupLocal.CLAIMING, GroupLocal.STARTING, GroupLocal.STOPPING)
            if not any(g.state in unsettled for g in self._groups) and not any(
                g.state is GroupLocal.NONE
                and desired_holder(g.spec.primary, self._views(g), self._p.auto_failback)
                == self._p.node
                for g in self._groups
            ):
                self._initial_logged = True
                out.append(Log("info", "Initial resource acquisition complete"))

    def _held_by_peer(self, g: _Group) -> bool:
        return any(
            p.alive and p.groups and p.groups[g.index].state in BUSY
            for p in self._peers.values()
        )

    def _holder(self, g: _Group) -> str | None:
        if g.state is GroupLocal.HELD:
            return self._p.node
        for want in (WireGroupState.HELD, WireGroupState.STARTING, WireGroupState.STOPPING,
                     WireGroupState.CRITICAL):
            for p in self._peers.values():
                if p.alive and p.groups and p.groups[g.index].state is want:
                    return p.name
            if want is WireGroupState.HELD and g.state in (
                GroupLocal.STARTING, GroupLocal.STOPPING, GroupLocal.CRITICAL
            ):
                return self._p.node
        return None

    # ------------------------------------------------------------------ heartbeats

    def _advertised(self) -> tuple[int, int, bytes]:
        flags = 0
        if self._p.ping_configured:
            flags |= NODE_FLAG_PING_CONFIGURED
            if self._ping_ok:
                flags |= NODE_FLAG_PING_OK
        groups = bytes(
            encode_group(GROUP_WIRE[g.state], g.yield_, g.want) for g in self._groups
        )
        return int(PHASE_WIRE[self._phase]), flags, groups

    def _maybe_send(self, now: float, out: list[Action]) -> None:
        gone = self._phase is Phase.GONE
        if self._phase not in SENDING_PHASES and not (gone and not self._final_sent):
            return
        state = self._advertised()
        due = (
            self._next_send is None
            or now >= self._next_send
            or state != self._last_sent
            or self._urgent
        )
        if not due:
            return
        self._sequence = (self._sequence + 1) & U32 or 1
        ts = self._ts(now) or 1  # 0 means "no echo" on the wire
        echoes = []
        for ln in self._p.links:
            for p in self._peers.values():
                lt = p.links[ln]
                delay = round((now - lt.echo_at) * 1000) & U32 if lt.echo_ts else 0
                echoes.append(LinkEcho(link=ln, echo_ms=lt.echo_ts, echo_delay_ms=delay,
                                       peer=p.name))
        out.append(
            SendHeartbeat(sequence=self._sequence, node_state=state[0], node_flags=state[1],
                          groups=state[2], echoes=tuple(echoes), timestamp_ms=ts)
        )
        self._last_sent = state
        self._last_ts = ts
        if self._first_ts is None:
            self._first_ts = ts
        self._next_send = now + self._p.keepalive
        self._urgent = False
        if gone:
            self._final_sent = True
            out.append(ShutdownComplete())

    def _status_text(self) -> str:
        held = [g.spec.key for g in self._groups if g.state is GroupLocal.HELD]
        parts = [f"{self._phase.value}; holding {len(held)}/{len(self._groups)} groups"]
        for p in self._peers.values():
            up = sum(1 for lt in p.links.values() if lt.up)
            word = "alive" if p.alive else "dead" if p.name in self._declared_dead else "unheard"
            parts.append(f"{p.name} {word} ({up}/{len(p.links)} links)")
        crit = [g.spec.key for g in self._groups if g.state is GroupLocal.CRITICAL]
        if crit:
            parts.append(f"CRITICAL: {', '.join(crit)}")
        return "; ".join(parts)

