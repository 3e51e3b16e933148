"""The core's `Snapshot` as the JSON document of `twinbeat status --json` (docs/internals.md §5).

Kept apart from the core (which knows nothing of JSON or of what an admin calls "healthy") and
from the control socket (which only moves bytes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from twinbeat.core import (
    FenceSnapshot,
    ForeignSnapshot,
    GroupSnapshot,
    PeerLinkSnapshot,
    PeerSnapshot,
    Snapshot,
)

# The monitor driver's view of each group's resources (daemon/monitor.py `Monitor.view`).
Checks = Mapping[str, list[dict[str, Any]]]

# A group in one of these local states needs an admin, whatever the links say.
TROUBLE_STATES = frozenset({"failed", "critical"})
# A peer that announced it is leaving (or gone) is still "alive" until deadtime passes, but it
# will not take anything over: the cluster is degraded from the announcement on.
LEAVING_STATES = frozenset({"leaving", "dead"})


def status_view(snapshot: Snapshot, checks: Checks | None = None) -> dict[str, Any]:
    """The status document; `healthy` is what an admin would call a cluster with no warning.

    `checks` (the monitor driver's, per group and resource) join the core's fail counts in
    each group's `resources`. A group that failed here, or any resource failure the core
    still counts, makes the cluster degraded until it expires or `twinbeat clear`.
    """
    healthy = snapshot.state == "active"
    peers, links = [], []
    for peer in snapshot.peers:
        healthy = healthy and peer.alive and peer.config_match
        healthy = healthy and peer.state not in LEAVING_STATES
        healthy = healthy and all(link.up for link in peer.links)
        peers.append(_peer_view(peer))
        links += [_link_view(peer.name, link) for link in peer.links]
    healthy = healthy and not any(g.local_state in TROUBLE_STATES for g in snapshot.groups)
    healthy = healthy and not any(_has_failures(g) for g in snapshot.groups)
    # The core's word: a fence needed and not confirmed (or a peer not heard since start-up)
    # means nothing is taken over from the peer (docs/fencing.md).
    fencing = snapshot.fencing
    healthy = healthy and (fencing is None or not fencing.degraded)
    return {
        "node": snapshot.node,
        "state": snapshot.state,
        "generation": snapshot.generation,
        "healthy": healthy,
        "ping_ok": snapshot.ping_ok,
        "peers": peers,
        "links": links,
        "rejected_unattributed": {
            link.name: dict(link.rejected) for link in snapshot.links if link.rejected
        },
        "groups": [_group_view(group, snapshot.now, (checks or {}).get(group.key, []))
                   for group in snapshot.groups],
        "fencing": None if fencing is None else fence_view(fencing, snapshot.now),
        # This node's own pauses (core/pause.py): not the peer's silence, but worth a look.
        "pauses": snapshot.pauses,
        "longest_pause": round(snapshot.longest_pause, 3),
    }


def fence_view(fencing: FenceSnapshot, now: float) -> dict[str, Any]:
    """The core's fencing of the peer; core times become ages, as everywhere in the view."""
    history = []
    for record in fencing.history:
        entry = asdict(record)
        if isinstance(entry.get("at"), float | int):
            entry["age"] = now - entry.pop("at")
        history.append(entry)
    return {
        "state": fencing.state,
        "peer": fencing.peer,
        "degraded": fencing.degraded,
        "reason": fencing.reason,
        "attempts": fencing.attempts,
        "last_result": fencing.last_result,
        "since_age": now - fencing.since,
        "next_attempt_in": None if fencing.next_attempt is None else fencing.next_attempt - now,
        "history": history,
    }


def _peer_view(peer: PeerSnapshot) -> dict[str, Any]:
    return {
        "name": peer.name,
        "alive": peer.alive,
        "protocol": peer.protocol,
        "state": peer.state,
        "generation": peer.generation,
        "last_heard_age": peer.last_heard_age,
        "config_match": peer.config_match,
        "ping_ok": peer.ping_ok,
        "heartbeat": _heartbeat_view(peer.heartbeat),
    }


def _heartbeat_view(hb: ForeignSnapshot | None) -> dict[str, Any] | None:
    """What the peer's heartbeat 3.0.6 messages say (issue #14); None if it never sent any."""
    if hb is None:
        return None
    return {
        "protocol": hb.protocol,
        "speaking": hb.speaking,
        "status": hb.status,
        "generation": hb.generation,
        "last_status_age": hb.last_status_age,
        "mode": hb.mode,
        "links": {fl.name: {"last_heard_age": fl.last_heard_age, "messages": fl.messages,
                            "replayed": fl.replayed} for fl in hb.links},
    }


def _link_view(peer: str, link: PeerLinkSnapshot) -> dict[str, Any]:
    counters = link.counters
    return {
        "peer": peer,
        "name": link.name,
        "up": bool(link.up),
        "carrier": link.carrier,
        "last_heard_age": link.last_heard_age,
        "rtt_ms": None if link.rtt is None else link.rtt * 1000,
        "frames_ok": counters.frames_ok,
        "rejected": dict(counters.rejected),
        "replayed": counters.replayed,
        "unechoed": counters.unechoed,
        "duplicates": counters.duplicates,
        "stale": counters.stale,
        "late": counters.late,
        "max_gap": link.max_gap,
        "margin": link.deadtime_margin,
    }


def _has_failures(group: GroupSnapshot) -> bool:
    return group.failed_here or group.fail_count > 0 or any(
        r.fail_count > 0 for r in group.resources)


def _group_view(group: GroupSnapshot, now: float, checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "key": group.key,
        "primary": group.primary,
        "holder": group.holder,
        "state": group.local_state,
        "standby": group.standby,
        "takeover": group.takeover,
        "since_age": now - group.last_change,
        "fail_count": group.fail_count,
        "last_failure": group.last_failure,
        "failed_here": group.failed_here,
        "resources": _resources_view(group, checks),
        "removed": group.removed,
        # Since this daemon started (the metrics' twinbeat_group_*_total): starts that
        # succeeded here, those taken over from the peer, those claimed while it was dead.
        "acquired": group.acquired,
        "takeovers": group.takeovers,
        "failovers": group.failovers,
    }


def _resources_view(group: GroupSnapshot, checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per resource: the core's counts (`index`, `text`, `fail_count`,
    `last_failure`) and the driver's last check, matched by index."""
    counted = {r.index: r for r in group.resources}
    out = []
    for index in range(max(len(checks), len(group.resources))):
        core = counted.get(index)
        check = checks[index] if index < len(checks) else {}
        out.append({
            "index": index,
            "text": core.text if core is not None else check.get("text"),
            "fail_count": core.fail_count if core is not None else 0,
            "last_failure": core.last_failure if core is not None else None,
            **{k: v for k, v in check.items() if k != "text"},
        })
    return out
