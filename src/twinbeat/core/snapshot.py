"""The core's status snapshot, for `twinbeat status` and the control socket.

Owns: plain frozen dataclasses, JSON-able through `dataclasses.asdict`. Times are ages in
seconds relative to the `now` of the last event fed (`Snapshot.now`), or None when unknown.
Must not import anything doing I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LinkCounters:
    frames_ok: int  # accepted and echoing us (fresh): these keep the link up
    duplicates: int  # same heartbeat already received on another link
    stale: int  # older than the state already applied (reordered), or sent before a carrier loss
    replayed: int  # older generation or sequence already seen on this link, not echoing us
    unechoed: int  # echoing none of our recent frames: proved nothing (docs/core.md)
    late: int  # gaps over warntime on this link
    rejected: dict[str, int]  # by reason; the core refuses none: engine.py adds its "link"


@dataclass(frozen=True)
class PeerLinkSnapshot:
    name: str
    up: bool | None  # None: never heard, initdead not over
    last_heard_age: float | None
    rtt: float | None  # seconds, from echoed timestamps
    max_gap: float  # longest silence between two frames on this link
    deadtime_margin: float  # deadtime - max_gap (how close this link came to dead)
    counters: LinkCounters
    carrier: bool | None = None  # the driver's last report on the physical layer (None: none)


@dataclass(frozen=True)
class ForeignLinkSnapshot:
    """The peer's messages in another protocol (heartbeat 3.0.6) on one link."""

    name: str
    last_heard_age: float
    messages: int
    replayed: int


@dataclass(frozen=True)
class ForeignSnapshot:
    """What the peer's messages in another protocol say (core/foreign.py)."""

    protocol: str  # "heartbeat-3.0.6"
    speaking: bool  # a fresh status within deadtime: alive, and this node holds off
    status: str | None  # its own word: "up", "active"
    generation: int | None
    last_status_age: float | None
    links: tuple[ForeignLinkSnapshot, ...]
    # what we do about it (foreign.py): "negotiating" (we speak its protocol), "holding off"
    # (auto_failback legacy), "ignored" (peer_protocol twinbeat, or its twinbeat frames win)
    # or "silent" (it speaks no more)
    mode: str = "silent"


@dataclass(frozen=True)
class PeerSnapshot:
    name: str
    alive: bool
    generation: int | None
    state: str  # "unknown" | "up" | "active" | "leaving" | "dead"
    last_heard_age: float | None
    config_match: bool
    ping_ok: bool | None  # None when the peer has no ping nodes configured
    links: tuple[PeerLinkSnapshot, ...]
    protocol: str = "twinbeat"  # or "heartbeat-3.0.6" while it speaks only that (foreign.py)
    heartbeat: ForeignSnapshot | None = None  # None: never heard speaking heartbeat


@dataclass(frozen=True)
class LinkSnapshot:
    """Frames on a link that could not be attributed to a known peer: the core's own
    ("unknown-peer"), plus what the wire refused, which engine.py counts and adds."""

    name: str
    rejected: dict[str, int]


@dataclass(frozen=True)
class ResourceSnapshot:
    """One resource of a group (monitoring.py): its failures here within the failure window."""

    index: int  # 0-based, in haresources order
    text: str  # as written in haresources
    fail_count: int
    last_failure: str | None  # the reason of its latest failure (kept until cleared)


@dataclass(frozen=True)
class GroupSnapshot:
    key: str
    primary: str
    holder: str | None
    local_state: str  # none|claiming|starting|held|stopping|failed|critical|restarting|
    #                   giving_up|given_up
    standby: bool
    takeover: bool
    last_change: float  # core time of the last local state change
    fail_count: int  # the group's resource failures here within the failure window
    last_failure: str | None  # "<resource text>: <reason>" of the latest (kept until cleared)
    failed_here: bool  # given up here for failures or "cannot run": not eligible here
    resources: tuple[ResourceSnapshot, ...]
    removed: bool = False  # removed by a reload, still being stopped here (core/regroup.py)
    acquired: int = 0  # starts that succeeded here since this daemon started
    takeovers: int = 0  # of those, taken over from the peer ("took over from" in the log)
    failovers: int = 0  # of those, claimed while the peer was dead: after its failure


@dataclass(frozen=True)
class FenceRecord:
    """One outcome of fencing the peer (core/fencing.py)."""

    at: float  # core time
    result: str  # "fenced" | "failed" | "acknowledged" (fence-ack) | "cancelled" (came back)
    reason: str | None  # the driver's reason for a failure; None otherwise


@dataclass(frozen=True)
class FenceSnapshot:
    """Fencing of the peer, when `Params.fencing` is on (docs/core.md, Fencing).

    `degraded` is True while a fence is needed and not confirmed, or the peer has not been
    heard since start-up: no group is taken over from it meanwhile, and `reason` says why
    in words (None when not degraded)."""

    state: str  # idle|unseen|waiting|fencing|failed|retrying|fenced (states.FenceState)
    peer: str
    attempts: int  # FencePeer issued for the current death of the peer
    last_result: str | None  # the latest record's result
    since: float  # core time of the last change of state
    next_attempt: float | None  # core time the head start or the backoff ends
    degraded: bool
    reason: str | None
    history: tuple[FenceRecord, ...]  # the last few outcomes, oldest first
    attempts_total: int = 0  # FencePeer issued since start-up (for the metrics)
    results: dict[str, int] = field(default_factory=dict)  # outcomes since start-up, by result


@dataclass(frozen=True)
class Snapshot:
    node: str
    state: str  # phase: boot|probing|cleaning|joining|active|leaving|gone
    generation: int
    now: float
    ping_ok: bool | None
    peers: tuple[PeerSnapshot, ...]
    links: tuple[LinkSnapshot, ...]
    groups: tuple[GroupSnapshot, ...]
    fencing: FenceSnapshot | None = None  # None: fencing not configured
    pauses: int = 0  # this node's own pauses since start-up (core/pause.py)
    longest_pause: float = 0.0  # seconds: the longest of them
