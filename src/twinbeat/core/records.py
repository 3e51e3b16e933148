"""The record of one resource group as this node sees it, and the situation it is judged in.

Owns the plain types groups.py's rules work on: `Group` (one haresources line: local state,
standby/takeover flags, claim timestamp, failed-start backoff, leftovers, start order and its
`PeerWatch`) and `Situation` (what the groups see while settling). groups.py writes a
`Group`'s fields (handoff.py through `stand_by`/`pull`); everything else reads them. Kept
apart so that the rules module stays about rules. Must import nothing doing I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .announce import PeerWatch
from .notices import LivePeer
from .params import GroupSpec
from .states import GroupLocal


@dataclass
class FailCount:
    """One group's failures here: (core time, resource index) within the window, oldest first,
    and the latest reason per resource (kept until cleared, for the status)."""

    failures: list[tuple[float, int]] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)
    latest: int | None = None  # the resource of the latest failure
    restart_from: int = 0  # the running RestartGroup's first resource

    def add(self, now: float, resource: int, reason: str) -> int:
        """Count a failure; the group's count within the window, this one included."""
        self.failures.append((now, resource))
        self.reasons[resource] = reason
        self.latest = resource
        return len(self.failures)

    def forget(self, now: float, timeout: float) -> None:
        """Drop the failures `timeout` old (none when it is 0: never forgotten)."""
        if timeout > 0:
            self.failures = [f for f in self.failures if now < f[0] + timeout]

    def of(self, resource: int) -> int:
        return sum(1 for _, r in self.failures if r == resource)

    def expires(self, timeout: float) -> float | None:
        """When the oldest failure is forgotten (None: nothing to forget, or never)."""
        return self.failures[0][0] + timeout if self.failures and timeout > 0 else None


@dataclass
class Group:
    """One haresources line as this node sees it; written by `Groups` and its own methods."""

    spec: GroupSpec
    index: int
    state: GroupLocal = GroupLocal.NONE
    yield_: bool = False  # standing by for this group (wire YIELD)
    want: bool = False  # takeover requested here (wire WANT)
    changed_at: float = 0.0
    claim_prev_ts: int | None = None  # our last timestamp sent before the claim
    failures: int = 0
    retry_at: float | None = None
    took_over_from: str | None = None
    last_peer_holder: str | None = None
    start_order: int = 0
    leftover: bool = False
    shutdown_retried: bool = False
    claimed_from_dead: bool = False  # the peer was dead (or unheard) when this node claimed
    # Counters for the status and metrics: starts that succeeded here; of those, the ones
    # that took the group over from the peer ("took over from" in the log); of those, the
    # ones whose claim was made while the peer was dead: failovers.
    acquired: int = 0
    takeovers: int = 0
    failovers: int = 0
    watch: PeerWatch = field(default_factory=PeerWatch)  # the peer's doings, for announces
    fails: FailCount = field(default_factory=FailCount)  # monitoring.py's fail count
    # Reloads (regroup.py): the definition this group takes once it is stopped here, and
    # whether a new group waits (advertised STOPPING) for removed ones to be stopped.
    pending: GroupSpec | None = None
    held_back: bool = False

    def stand_by(self) -> None:
        """YIELD the group to the peer (`twinbeat standby`, or the peer's takeover request)."""
        self.yield_, self.want = True, False

    def pull(self) -> None:
        """WANT the group here unless it is held here already (`twinbeat takeover`)."""
        self.yield_ = False
        self.want = self.state not in (GroupLocal.HELD, GroupLocal.RESTARTING)


@dataclass(frozen=True)
class Situation:
    """What the groups see while settling (and planning handoffs); fixed for one settle."""

    now: float
    active: bool  # this node's phase is ACTIVE
    ping_ok: bool
    last_ts: int | None  # our latest heartbeat's timestamp
    peer: LivePeer | None  # None: dead, never heard, or no peer configured
    takeover_ok: bool = True  # False: the peer is dead and not fenced yet (fencing.py)
    held_off: bool = False  # the peer speaks heartbeat 3.0.6 and we cannot (foreign.py)
    negotiation: Negotiation | None = None  # r1.py is in charge (foreign.py)


@dataclass(frozen=True)
class Negotiation:
    """While the groups are negotiated in heartbeat 3.0.6's protocol (r1.py): the peer,
    the groups its `resource` messages say it holds, and why a standby or takeover
    cannot start now (None: it can)."""

    peer: str
    peer_holds: frozenset[int]
    refusal: str | None
