"""This node's resource groups: claim, ack, start, release, withdraw, standby and takeover.

Owns: one `Group` record per haresources line (records.py: local state, standby/takeover
flags, claim timestamp, failed-start backoff, leftovers, start order). Every change of a
group's local state goes through `Groups.move` (`states.group_step`), monitoring.py's too;
`move` also tells the monitor driver which groups to watch: exactly the ones held here.

The rules (theory: states.py's docstring, docs/core.md):
- **claim**: a group picked for this node by `ownership.desired_holder`, which the peer shows
  neither claiming, starting, holding nor stopping, is advertised STARTING (CLAIMING) first;
- **ack** (`claim.claim_acked`, the safety argument): StartGroup only once the peer has
  echoed a timestamp newer than our last pre-claim heartbeat and shows itself idle for the
  group (or is leaving, or dead: the link quorum said so);
- **withdraw** a claim no longer picked, or met by the peer holding; **release** a held group
  picked elsewhere (stop before the peer starts: stop-then-start on every handoff);
- failed starts back off (2·deadtime·2^(n-1), at most 8·deadtime); failed stops and failed
  rollbacks are CRITICAL and stay claimed;
- **split brain** (both held it after both links were cut): the higher-ranked holder keeps
  it; when a holder re-announces is announce.py's rule, run through each group's `PeerWatch`.

The peer is seen only through membership.py's frozen `LivePeer` (None while it is dead); what
it held arrives from node.py (`peer_held`). Standby/takeover requests: handoff.py, through
`Group.stand_by`/`Group.pull`. Must not import membership's state, node.py, or anything doing
I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from .claim import claim_acked
from .errors import CoreMisuse
from .events import (
    Action,
    GroupStarted,
    GroupStartFailed,
    GroupStopFailed,
    GroupStopped,
    Log,
    StartGroup,
    StartMonitoring,
    StopGroup,
    StopMonitoring,
)
from .hbgroups import negotiated_holder
from .membership import LivePeer
from .ownership import GroupView, NodeView, desired_holder, rank
from .params import Params
from .records import Group, Negotiation, Situation
from .states import (
    BUSY,
    GROUP_WIRE,
    NODE_FLAG_PING_CONFIGURED,
    NODE_FLAG_PING_OK,
    NOT_ELIGIBLE,
    NOT_RELEASED,
    SETTLED,
    WATCHED,
    GroupLocal,
    GroupTrigger,
    WireGroupState,
    WireNodeState,
    encode_group,
    group_step,
    group_step_allowed,
)

# Busy with the group here, not holding it (holder(): after HELD, RESTARTING, the peer's HELD).
BUSY_HERE = (GroupLocal.STARTING, GroupLocal.STOPPING, GroupLocal.GIVING_UP, GroupLocal.CRITICAL)

# Failed start: wait BACKOFF_BASE * deadtime * 2**(failures-1) (capped) before retrying here.
BACKOFF_BASE = 2.0
BACKOFF_CAP = 8.0

GroupResult = GroupStarted | GroupStartFailed | GroupStopped | GroupStopFailed
# An agent's result, keyed by type, as a trigger (a start not rolled back: ROLLBACK_FAILED).
RESULT_TRIGGERS: dict[type[GroupResult], GroupTrigger] = {
    GroupStarted: GroupTrigger.STARTED,
    GroupStartFailed: GroupTrigger.START_FAILED,
    GroupStopped: GroupTrigger.STOPPED,
    GroupStopFailed: GroupTrigger.STOP_FAILED,
}


class Groups:
    """This node's resource groups. See the module docstring."""

    def __init__(self, params: Params, now: float) -> None:
        self._p = params
        self.records = tuple(
            Group(spec=g, index=i, changed_at=now) for i, g in enumerate(params.groups)
        )
        self._by_key = {g.spec.key: g for g in self.records}
        # A reload (regroup.py): groups removed from haresources but still being stopped
        # here (not on the wire), and the keys of those stopped since (late reports ignored).
        self.retiring: dict[str, Group] = {}
        self.gone: set[str] = set()
        self._start_counter = 0
        self._peer_was_alive = False  # when it was last declared dead (peer_returned)

    # ------------------------------------------------------------------ queries

    @property
    def node(self) -> str:
        return self._p.node

    @property
    def params(self) -> Params:
        return self._p

    def get(self, key: str) -> Group:
        """The group of `key`: in the configuration, or removed by a reload and still being
        stopped here (regroup.py)."""
        g = self._by_key.get(key) or self.retiring.get(key)
        if g is None:
            raise CoreMisuse(f"unknown group {key!r}")
        return g

    def every(self) -> list[Group]:
        """The configured groups, then those a reload removed that are still stopping."""
        return [*self.records, *self.retiring.values()]

    def retired(self, key: str | None) -> bool:
        """`key` was removed by a reload and is stopped: a late report about it is ignored."""
        return key is not None and key in self.gone and key not in self._by_key \
            and key not in self.retiring

    def adopt(self, params: Params, records: list[Group]) -> None:
        """A reload's new group list (regroup.py: the records are reused by key)."""
        self._p = params
        self.records = tuple(records)
        self._by_key = {g.spec.key: g for g in self.records}
        self.gone -= set(self._by_key)

    def check_keys(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.get(key)

    def has_leftovers(self) -> bool:
        return any(g.leftover for g in self.every())

    def deadline(self) -> float | None:
        """When a failed start's backoff ends."""
        return min((g.retry_at for g in self.records if g.retry_at is not None), default=None)

    def advertised(self, layout: Sequence[str] | None = None) -> bytes:
        """One byte per group for our heartbeat: state nibble + YIELD/WANT; in the order of
        `layout` (keys: the peer's configuration, layouts.py; NONE for a key not here)."""
        records = self.records if layout is None else [
            self._by_key.get(key) or self.retiring.get(key) for key in layout]
        return bytes(0 if g is None else encode_group(
            WireGroupState.STOPPING if g.held_back else GROUP_WIRE[g.state], g.yield_, g.want)
            for g in records)

    def holder(self, g: Group, peer: LivePeer | None,
               negotiation: Negotiation | None = None) -> str | None:
        """Who holds the group as far as this node can tell (HELD first, then busy states);
        while negotiating with a heartbeat peer (r1.py), the peer as its messages say."""
        if negotiation is not None:
            return negotiated_holder(g, self._p.node, negotiation)
        theirs = peer.group(g.index) if peer is not None else None
        if g.state in (GroupLocal.HELD, GroupLocal.RESTARTING):
            return self._p.node
        if peer is not None and theirs is WireGroupState.HELD:
            return peer.name
        if g.state in BUSY_HERE:
            return self._p.node
        if peer is not None and theirs in BUSY - {WireGroupState.HELD}:
            return peer.name
        return None

    def desired(self, g: Group, s: Situation) -> str | None:
        """Who should hold the group now (ownership.desired_holder)."""
        return self._desired(g, self.views(g, s))

    def _desired(self, g: Group, views: list[NodeView]) -> str | None:
        return desired_holder(g.spec.primary, views, self._p.auto_failback)

    def views(self, g: Group, s: Situation) -> list[NodeView]:
        """This node's view of the group, then the peer's (if alive and comparable)."""
        views = [
            NodeView(
                name=self._p.node,
                active=s.active,
                ping_configured=self._p.ping_configured,
                ping_ok=s.ping_ok,
                group=GroupView(GROUP_WIRE[g.state], g.yield_, g.want),
            )
        ]
        p = s.peer
        if p is not None and p.config_match and p.node_state is not None \
                and 0 <= g.index < len(p.groups):
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

    # ------------------------------------------------------------------ events

    def check_result(self, ev: GroupResult) -> None:
        """`CoreMisuse` unless the agent's result fits the group's state."""
        g = self.get(ev.key)
        if not group_step_allowed(g.state, _result_trigger(ev)):
            doing = "starting" if isinstance(ev, GroupStarted | GroupStartFailed) else "stopping"
            raise CoreMisuse(f"{type(ev).__name__} for {ev.key}, which is not {doing}")

    def leftovers(self, keys: Sequence[str], now: float, out: list[Action]) -> None:
        """Groups found running at start-up: stop them (last line first) before joining."""
        found = set(keys)
        for g in reversed(self.records):
            if g.spec.key in found:
                out.append(Log("warning", f"Resource group {g.spec.key} found running at "
                                          "start-up: stopping it before joining"))
                self.move(g, GroupTrigger.LEFTOVER, now, out)
                g.leftover = True
                out.append(StopGroup(g.spec.key))

    def on_result(self, ev: GroupResult, now: float, out: list[Action]) -> None:
        """An agent finished starting or stopping a group."""
        g = self.get(ev.key)
        self.move(g, _result_trigger(ev), now, out)
        match ev:
            case GroupStarted(key=k):
                g.failures = 0
                g.yield_ = g.want = False
                self._start_counter += 1
                g.start_order = self._start_counter
                src = f" (took over from {g.took_over_from})" if g.took_over_from else ""
                out.append(Log("info", f"Resource group {k} acquired{src}"))
                g.acquired += 1
                g.takeovers += int(g.took_over_from is not None)
                g.failovers += int(g.took_over_from is not None and g.claimed_from_dead)
                g.took_over_from = None
            case GroupStartFailed(key=k, reason=reason, rolled_back=False):
                g.want = False
                out.append(Log("critical", f"Resource group {k} failed to start and could not "
                                           f"be rolled back ({reason}): it stays claimed by "
                                           "this node; manual intervention required!"))
            case GroupStartFailed(key=k, reason=reason):
                g.failures += 1
                g.want = False
                factor = min(BACKOFF_BASE * 2 ** (g.failures - 1), BACKOFF_CAP)
                g.retry_at = now + factor * self._p.deadtime
                wait = factor * self._p.deadtime
                out.append(Log("error", f"Resource group {k} failed to start ({reason}): giving "
                                        f"it up to the peer; not retrying here for {wait:g}s"))
            case GroupStopped(key=k):
                g.leftover = False
                out.append(Log("info", f"Resource group {k} released"))
            case GroupStopFailed(key=k, reason=reason):
                g.leftover = False
                out.append(Log("critical", f"Resource group {k} failed to stop ({reason}): it "
                                           "stays claimed by this node; manual intervention "
                                           "required!"))

    def advance(self, now: float, out: list[Action]) -> None:
        """A failed start's backoff is over: this node may try the group again."""
        for g in self.records:
            if g.retry_at is not None and now >= g.retry_at:
                g.retry_at = None
                if g.state is GroupLocal.FAILED:
                    self.move(g, GroupTrigger.RETRY, now, out)
                    out.append(Log("info", f"Resource group {g.spec.key}: start may be retried"))

    # ------------------------------------------------------------------ what befell the peer

    def peer_held(self, peer: str, indices: Sequence[int]) -> None:
        """For "took over from": the peer held these (it died busy with them, or a frame
        showed it holding or stopping them)."""
        for i in indices:
            self.records[i].last_peer_holder = peer

    def peer_died(self, was_alive: bool) -> None:
        self._peer_was_alive = was_alive  # it had been heard: it may do things unseen now

    def peer_returned(self) -> None:
        """Heard again after it was declared dead (not a first contact after initdead): the
        groups held or being started here are re-announced (announce.py)."""
        for g in self.records:
            if self._peer_was_alive and g.state in WATCHED:
                g.watch.peer_returned()

    # ------------------------------------------------------------------ settling

    def step(self, s: Situation, out: list[Action]) -> None:
        """One settling pass (phase ACTIVE): move every group towards its desired holder."""
        for g in self.records:
            self._step_group(g, s, out)

    def step_leaving(self, now: float, out: list[Action]) -> bool:
        """One settling pass while leaving; True once nothing is held, starting or stopping.

        Every held group is released at once, last started first; a critical group's stop
        is retried once."""
        for g in self.records:
            if g.state is GroupLocal.CLAIMING:
                self.move(g, GroupTrigger.WITHDRAW, now, out)
        releasable = [
            g for g in self.every()
            if g.state is GroupLocal.HELD
            or (g.state is GroupLocal.CRITICAL and not g.shutdown_retried)
        ]
        for g in sorted(releasable, key=lambda g: g.start_order, reverse=True):
            if g.state is GroupLocal.CRITICAL:
                g.shutdown_retried = True
            self.release(g, now, out)
        return not any(g.state in NOT_RELEASED for g in self.every())

    def move(self, g: Group, trigger: GroupTrigger, now: float, out: list[Action]) -> None:
        """Every change of a group's state (also monitoring.py's). A group is monitored
        exactly while it is held here: StopMonitoring comes before the stop or restart that
        the caller appends next, StartMonitoring once it is held (again)."""
        state = group_step(g.state, trigger)
        if state is not g.state:
            if g.state is GroupLocal.HELD:
                out.append(StopMonitoring(g.spec.key))
            g.state = state
            g.changed_at = now
            if state is GroupLocal.HELD:
                out.append(StartMonitoring(g.spec.key))
                g.watch.hold_anew()
            elif state not in WATCHED:
                g.watch.forget()

    def release(self, g: Group, now: float, out: list[Action], why: str = "") -> None:
        """HELD (or CRITICAL, at shutdown) -> STOPPING: StopMonitoring, then StopGroup."""
        self.move(g, GroupTrigger.RELEASE, now, out)
        out.append(Log("info", f"releasing resource group: {g.spec.key}{why}"))
        out.append(StopGroup(g.spec.key))

    def _step_group(self, g: Group, s: Situation, out: list[Action]) -> None:
        if g.held_back:
            return  # a reload's new group: it waits until the removed ones are stopped
        me = self._p.node
        # No acquiring on a mismatched peer's account, nor while isolated (ping guard).
        blocked = (s.peer is not None and (not s.peer.config_match
                                           or g.index in s.peer.absent)) or (
            self._p.ping_configured and not s.ping_ok
        )
        want = self._desired(g, self._answer_takeover(g, s, out))
        theirs = s.peer.group(g.index) if s.peer is not None else None
        if g.state is GroupLocal.NONE and want == me and theirs not in BUSY and not blocked:
            self.move(g, GroupTrigger.CLAIM, s.now, out)
            g.claim_prev_ts = s.last_ts
            g.claimed_from_dead = s.peer is None
            if g.took_over_from is None:
                g.took_over_from = g.last_peer_holder
        if g.state is GroupLocal.CLAIMING:
            if want != me or blocked or theirs in SETTLED:
                self.move(g, GroupTrigger.WITHDRAW, s.now, out)
                g.took_over_from = None
            elif claim_acked(s.peer, g.index, g.claim_prev_ts) and s.takeover_ok:
                self.move(g, GroupTrigger.ACKED, s.now, out)
                out.append(Log("info", f"acquiring resource group: {g.spec.key}"))
                out.append(StartGroup(g.spec.key))
        elif g.state is GroupLocal.HELD:
            self._step_held(g, want, theirs, s, out)

    def _answer_takeover(self, g: Group, s: Situation, out: list[Action]) -> list[NodeView]:
        """A takeover request (WANT) from a peer that may acquire: stand by for that group
        (heartbeat's `hb_takeover` runs `hb_standby` on the other side). Returns the views
        after that."""
        views = self.views(g, s)
        if len(views) < 2 or g.yield_:
            return views
        me, v = self._p.node, views[1]
        if (
            v.group.want and v.active and not v.isolated
            and v.group.state not in NOT_ELIGIBLE
            and (not g.want or rank(g.spec.primary, v.name) < rank(g.spec.primary, me))
        ):
            g.stand_by()
            out.append(Log("info", f"Node {v.name} requested takeover of {g.spec.key}: "
                                   "standing by for it"))
            return self.views(g, s)
        return views

    def _step_held(self, g: Group, want: str | None, theirs: WireGroupState | None,
                   s: Situation, out: list[Action]) -> None:
        """Held here: release it when picked elsewhere; the watch may re-announce it."""
        me = self._p.node
        keeper = want if want is not None else me
        peer = s.peer.name if s.peer is not None else (self._p.peer or "")
        g.watch.step(g.spec.key, peer=peer, theirs=theirs, alive=s.peer is not None,
                     keeper=keeper, me=me, out=out)
        if keeper != me:
            self.release(g, s.now, out)


def _result_trigger(ev: GroupResult) -> GroupTrigger:
    if isinstance(ev, GroupStartFailed) and not ev.rolled_back:
        return GroupTrigger.ROLLBACK_FAILED
    return RESULT_TRIGGERS[type(ev)]
