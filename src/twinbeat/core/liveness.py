"""Per-(peer, link) liveness bookkeeping: last heard, sequence window, echoes, counters.

Owns: `LinkTracker` (one per peer and link) and `PeerTracker` (one per peer: generation,
applied sequence, the peer's latest applied state, and its links). These are plain records
with small helpers; the decisions (dead/up, logging, ownership) are made in node.py.
Must not import anything doing I/O.

ha.cf semantics (heartbeat-3.0.6 §4): a (peer, link) is up while heard within `deadtime`
(`initdead` before the first frame); the peer is dead only when every link is dead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .states import WireGroupState, WireNodeState

SEQ_WINDOW = 1024  # sequences remembered per (peer, link) for replay detection


@dataclass
class LinkTracker:
    link: str
    up: bool | None = None  # None: never heard and initdead not over yet
    last_heard: float | None = None
    highest_seq: int = 0
    seen: set[int] = field(default_factory=set)
    frames_ok: int = 0
    duplicates: int = 0
    stale: int = 0
    replayed: int = 0
    late: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    max_gap: float = 0.0
    rtt: float | None = None
    echo_ts: int = 0  # the peer's latest timestamp_ms received here (0 = none yet)
    echo_at: float = 0.0

    def forget_sequences(self) -> None:
        """The peer restarted: its old sequence numbers mean nothing any more."""
        self.highest_seq = 0
        self.seen = set()
        self.echo_ts = 0

    def is_replay(self, seq: int) -> bool:
        return seq in self.seen or seq <= self.highest_seq - SEQ_WINDOW or seq == 0

    def remember(self, seq: int) -> None:
        self.seen.add(seq)
        if seq > self.highest_seq:
            self.highest_seq = seq
            floor = seq - SEQ_WINDOW
            if len(self.seen) > 2 * SEQ_WINDOW:
                self.seen = {s for s in self.seen if s > floor}


@dataclass
class GroupView:
    """A peer's state for one group, from its latest applied frame."""

    state: WireGroupState = WireGroupState.NONE
    yield_: bool = False
    want: bool = False


@dataclass
class PeerTracker:
    name: str
    links: dict[str, LinkTracker]
    generation: int | None = None
    alive: bool = False
    ever_alive: bool = False
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

    def any_link_up(self) -> bool:
        return any(t.up for t in self.links.values())
