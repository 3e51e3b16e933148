"""One link to the peer: when it was last heard, its sequence window, echo, RTT and counters.

Owns: `LinkTracker`, one per link to the peer (one ha.cf `bcast`/`mcast`/`ucast`/`serial`
medium), and `RejectCounts` (frames refused on a link, by reason). Every field is written by
these classes' own methods only; membership.py decides what a frame means and when the
links' silence makes the peer dead (the link quorum), status.py reads the fields for the
snapshot. Must not import anything doing I/O, nor another core module's state.

ha.cf semantics (heartbeat-3.0.6 §4): a link is up while heard within `deadtime`
(`initdead` from `Started` until the first frame), plus a grace margin (`grace`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .events import LinkEcho
from .states import U32, ts_after

SEQ_WINDOW = 1024  # sequences remembered per link for replay detection
# A link is dead when silent for deadtime + grace: a heartbeat arriving exactly at the
# deadline must not flap the link (DESIGN §9). The grace is GRACE, or half a keepalive when
# that is shorter, so that sub-second presets (deadtime 40ms) are not stretched by it.
GRACE = 0.05


def grace(keepalive: float) -> float:
    """The margin added to deadtime (and initdead) before a silent link is declared dead."""
    return min(GRACE, keepalive / 2)


@dataclass
class RejectCounts:
    """Frames refused on one link, by reason ("mac", "length", "unknown-peer", ...)."""

    by_reason: dict[str, int] = field(default_factory=dict)

    def count(self, reason: str) -> None:
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1


@dataclass
class LinkTracker:
    """The peer as heard on one link."""

    link: str
    up: bool | None = None  # None: never heard and initdead not over yet
    last_heard: float | None = None
    highest_seq: int = 0
    seen: set[int] = field(default_factory=set)
    frames_ok: int = 0  # accepted (not replayed): applied, duplicate or stale
    duplicates: int = 0
    stale: int = 0
    replayed: int = 0
    late: int = 0
    max_gap: float = 0.0
    rtt: float | None = None
    echo_ts: int = 0  # the peer's latest timestamp_ms received here (0 = none yet)
    echo_at: float = 0.0

    # -- timers

    def deadline(self, deadtime: float, grace: float, initdead_end: float | None) -> float | None:
        """When this link goes dead if nothing arrives: deadtime after it was last heard (or
        initdead after `Started`, before the first frame), plus grace. None: already dead,
        or not started."""
        if self.up and self.last_heard is not None:
            return self.last_heard + deadtime + grace
        if self.up is None and initdead_end is not None:
            return initdead_end + grace
        return None

    def mark_dead(self) -> None:
        self.up = False

    # -- sequences

    def forget_sequences(self) -> None:
        """The peer restarted: its old sequence numbers mean nothing any more."""
        self.highest_seq = 0
        self.seen = set()
        self.echo_ts = 0

    def accept(self, seq: int) -> bool:
        """Remember `seq` and say True, unless it is a replay on this link (then count it)."""
        if seq in self.seen or seq <= self.highest_seq - SEQ_WINDOW or seq == 0:
            self.replayed += 1
            return False
        self.seen.add(seq)
        if seq > self.highest_seq:
            self.highest_seq = seq
            floor = seq - SEQ_WINDOW
            if len(self.seen) > 2 * SEQ_WINDOW:
                self.seen = {s for s in self.seen if s > floor}
        return True

    def has_seen(self, seq: int) -> bool:
        return seq in self.seen

    def count_replay(self) -> None:
        """A frame of an older generation: a replay whatever its sequence."""
        self.replayed += 1

    def count_duplicate(self) -> None:
        self.duplicates += 1

    def count_stale(self) -> None:
        self.stale += 1

    # -- liveness, echoes, RTT

    def refresh(self, now: float, warntime: float) -> bool:
        """An accepted frame arrived: the link is heard now. True if the link just came up."""
        if self.last_heard is not None:
            gap = now - self.last_heard
            self.max_gap = max(self.max_gap, gap)
            if gap > warntime:
                self.late += 1
        self.last_heard = now
        self.frames_ok += 1
        came_up = self.up is not True
        self.up = True
        return came_up

    def note_peer_timestamp(self, timestamp_ms: int, now: float) -> None:
        """Keep the peer's newest timestamp on this link: it is echoed back on this link."""
        if self.echo_ts == 0 or ts_after(timestamp_ms, self.echo_ts):
            self.echo_ts = timestamp_ms
            self.echo_at = now

    def note_rtt(self, rtt_ms: int) -> None:
        """`rtt_ms` is u32 arithmetic: a "negative" RTT (clock oddity) is ignored."""
        if rtt_ms < 0x80000000:
            self.rtt = rtt_ms / 1000.0

    def echo(self, now: float) -> LinkEcho:
        """What our next frame on this link echoes: the peer's timestamp and the ms since."""
        delay = round((now - self.echo_at) * 1000) & U32 if self.echo_ts else 0
        return LinkEcho(link=self.link, echo_ms=self.echo_ts, echo_delay_ms=delay)
