"""Builds the status snapshot and the one-line sd_notify status from the core's state.

Owns no state: pure functions that *read* membership.py's records (the peer, its links, the
unattributed counts) and groups.py's, and return snapshot.py's plain dataclasses or a
string. Kept out of node.py so that the facade only composes, and out of the owners so
that what an operator sees is decided in one place. Must not write any field it reads, nor
import anything doing I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from .events import Action, SendHeartbeat, StatusChanged
from .foreign import PROTOCOLS, Foreign
from .groups import Groups
from .liveness import LinkTracker
from .membership import Membership
from .monitoring import Monitoring, resource_text
from .notices import LivePeer
from .pause import Pauses
from .peer import PeerTracker
from .records import Group, Negotiation
from .snapshot import (
    FenceSnapshot,
    GroupSnapshot,
    LinkCounters,
    LinkSnapshot,
    PeerLinkSnapshot,
    PeerSnapshot,
    ResourceSnapshot,
    Snapshot,
)
from .states import (
    GIVEN_UP_HERE,
    NODE_FLAG_PING_CONFIGURED,
    NODE_FLAG_PING_OK,
    WIRE_NODE_STATE_NAMES,
    GroupLocal,
    Phase,
)


def _age(now: float, then: float | None) -> float | None:
    return None if then is None else now - then


def link_snapshot(lt: LinkTracker, now: float, deadtime: float) -> PeerLinkSnapshot:
    return PeerLinkSnapshot(
        name=lt.link,
        up=lt.up,
        last_heard_age=_age(now, lt.last_heard),
        rtt=lt.rtt,
        max_gap=lt.max_gap,
        deadtime_margin=deadtime - lt.max_gap,
        counters=LinkCounters(
            frames_ok=lt.frames_ok,
            duplicates=lt.duplicates,
            stale=lt.stale,
            replayed=lt.replayed,
            unechoed=lt.unechoed,
            late=lt.late,
            rejected={},  # frames the wire refused: counted and added by engine.py
        ),
        carrier=lt.carrier,
    )


def peer_snapshot(p: PeerTracker, now: float, deadtime: float, foreign: Foreign) -> PeerSnapshot:
    """The peer as its twinbeat frames show it; while it speaks only heartbeat 3.0.6
    (foreign.py), as its heartbeat messages do: alive, in its own status words."""
    state = "unknown" if p.node_state is None else WIRE_NODE_STATE_NAMES[p.node_state]
    if not p.alive and p.declared_dead:
        state = "dead"
    ping_ok = None
    if p.node_flags & NODE_FLAG_PING_CONFIGURED:
        ping_ok = bool(p.node_flags & NODE_FLAG_PING_OK)
    alive, generation, heard = p.alive, p.generation, _age(now, p.last_heard)
    protocol = "twinbeat"
    if foreign.speaking and not p.alive and foreign.protocol in PROTOCOLS:
        alive, generation, heard = True, foreign.generation, _age(now, foreign.last_status_at)
        protocol, state = foreign.protocol, foreign.status or "unknown"
    return PeerSnapshot(
        name=p.name,
        alive=alive,
        generation=generation,
        state=state,
        last_heard_age=heard,
        config_match=p.config_match,
        ping_ok=ping_ok,
        links=tuple(link_snapshot(lt, now, deadtime) for lt in p.links.values()),
        protocol=protocol,
        heartbeat=foreign.snapshot(now, p.alive),
    )


def group_snapshot(g: Group, groups: Groups, monitoring: Monitoring,
                   live: LivePeer | None, negotiation: Negotiation | None = None
                   ) -> GroupSnapshot:
    count = g.fails
    n = max([len(g.spec.resources), *(i + 1 for i in count.reasons)])
    return GroupSnapshot(
        key=g.spec.key,
        primary=g.spec.primary,
        holder=groups.holder(g, live, negotiation),
        local_state=g.state.value,
        standby=g.yield_,
        takeover=g.want,
        last_change=g.changed_at,
        fail_count=len(count.failures),
        last_failure=monitoring.last_failure(g),
        failed_here=g.state in GIVEN_UP_HERE,
        resources=tuple(
            ResourceSnapshot(index=i, text=resource_text(g.spec, i), fail_count=count.of(i),
                             last_failure=count.reasons.get(i))
            for i in range(n)
        ),
        removed=g.index < 0,
        acquired=g.acquired,
        takeovers=g.takeovers,
        failovers=g.failovers,
    )


def build_snapshot(phase: Phase, now: float, ping_ok: bool, membership: Membership,
                   groups: Groups, *, monitoring: Monitoring, foreign: Foreign,
                   fencing: FenceSnapshot | None = None, pauses: Pauses | None = None
                   ) -> Snapshot:
    p = membership.params
    peer = membership.peer
    live = membership.live_peer()
    return Snapshot(
        node=p.node,
        state=phase.value,
        generation=p.generation,
        now=now,
        ping_ok=ping_ok if p.ping_configured else None,
        peers=() if peer is None else (peer_snapshot(peer, now, p.deadtime, foreign),),
        links=tuple(
            LinkSnapshot(name=ln, rejected=_merged(counts.by_reason,
                                                   foreign.unattributed[ln].by_reason))
            for ln, counts in membership.unattributed.items()
        ),
        groups=tuple(group_snapshot(g, groups, monitoring, live,
                                    foreign.negotiation(live is not None))
                     for g in groups.every()),
        fencing=fencing,
        pauses=0 if pauses is None else pauses.count,
        longest_pause=0.0 if pauses is None else pauses.longest,
    )


def _merged(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}


def status_line(phase: Phase, membership: Membership, groups: Groups, *,
                monitoring: Monitoring, fencing: str | None = None,
                foreign: Foreign | None = None) -> str:
    """For sd_notify STATUS=: phase, groups held, the peer's liveness (or its holding off
    while it speaks heartbeat 3.0.6 only), critical groups, groups given up here and groups
    with failures (each makes the cluster degraded), and a fence that holds takeovers back
    (`fencing`: fencing.py's few words)."""
    held = [g for g in groups.records if g.state is GroupLocal.HELD]
    parts = [f"{phase.value}; holding {len(held)}/{len(groups.records)} groups"]
    p = membership.peer
    if p is not None:
        up = sum(1 for lt in p.links.values() if lt.up)
        word = "alive" if p.alive else "dead" if p.declared_dead else "unheard"
        if foreign is not None and foreign.speaking and not p.alive:
            name = PROTOCOLS.get(foreign.protocol or "", "heartbeat")
            word = f"speaks {name} ({foreign.mode(False)})"
        parts.append(f"{p.name} {word} ({up}/{len(p.links)} links)")
    crit = [g.spec.key for g in groups.every() if g.state is GroupLocal.CRITICAL]
    if crit:
        parts.append(f"CRITICAL: {', '.join(crit)}")
    given_up = [g.spec.key for g in groups.records if g.state in GIVEN_UP_HERE]
    if given_up:
        parts.append(f"FAILED here: {', '.join(given_up)}")
    failing = [f"{g.spec.key} ({n})" for g in groups.records
               if (n := len(g.fails.failures)) and g.state not in GIVEN_UP_HERE]
    if failing:
        parts.append(f"failures: {', '.join(failing)}")
    if fencing:
        parts.append(fencing)
    return "; ".join(parts)


class StatusLine:
    """The status line last said (`StatusChanged`), built again only when it may have moved
    (issue #17: building it was an eighth of a steady frame's cost).

    What the line shows moves with an action (a link or the peer dying or coming back is
    logged, a fence is ordered) or with node.py's settling key (`moved`). Not so failures
    that `failure_timeout` forgets, nor a heartbeat peer's mode (r1.py's): while either is
    about, the line is built on every feed, and once more after the last failure went."""

    def __init__(self) -> None:
        self.text = ""
        self._failures = False  # the last line built saw failures

    def update(self, moved: bool, out: list[Action], build: Callable[[], str], *,
               foreign: Foreign, groups: Groups) -> None:
        failures = any(g.fails.failures for g in groups.records)
        if not (moved or failures or self._failures or foreign.speaking or foreign.spoke
                or any(type(action) is not SendHeartbeat for action in out)):
            return
        self._failures = failures
        text = build()
        if text != self.text:
            self.text = text
            out.append(StatusChanged(text))
