"""One link to the peer: when it was last heard, the frames it carried, echo, RTT, counters.

Owns: `LinkTracker`, one per link to the peer (one ha.cf `bcast`/`mcast`/`ucast`/`serial`
medium), and `RejectCounts` (frames refused on a link, by reason). Every field is written by
these classes' own methods only; membership.py decides what a frame means and when the
links' silence makes the peer dead (the link quorum), status.py reads the fields for the
snapshot. Must not import anything doing I/O, nor another core module's state.

ha.cf semantics (heartbeat-3.0.6 §4): a link is up while heard within `deadtime`
(`initdead` from our first heartbeat until the first frame), plus a grace margin
(`grace`). "Heard" means a frame that echoes one of our recent timestamps (docs/core.md,
Freshness): only such a frame refreshes the link, so a link is up while it carries frames
both ways, and a replay cannot keep it up.

The physical layer (docs/core.md, Physical links): when the link's driver reports its
carrier lost (a NIC's carrier, a serial line's modem lines or a hang-up), the link is dead
at once, as if silent for deadtime, and it is heard again only from a frame that echoes a
timestamp we sent *after* the loss (`carrier_floor`): frames already in flight, or queued
behind the driver's report, were sent before it and prove nothing about the link now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .events import LinkEcho
from .sequences import prune
from .states import ts_after

# A link is dead when silent for deadtime + grace: a heartbeat arriving exactly at the
# deadline must not flap the link (DESIGN §9). The grace is GRACE, or half a keepalive when
# that is shorter, so that sub-second presets (deadtime 40ms) are not stretched by it.
GRACE = 0.05
ECHO_DELAY_MAX = 0xFFFF  # the wire's echo delay is a u16, saturating


def grace(keepalive: float) -> float:
    """The margin added to deadtime (and initdead) before a silent link is declared dead."""
    return min(GRACE, keepalive / 2)


def carrier_report(links: Mapping[str, LinkTracker], link: str, up: bool,
                   last_ts: int | None, peer_alive: bool) -> tuple[str | None, bool]:
    """Apply a driver's report on `link` (`LinkCarrier`): returns what to log after "Link
    PEER:LINK" (None: no news) and whether the link died of it.

    A lost carrier kills an up link, and one never heard while the peer is alive elsewhere;
    links never heard whose carrier is lost too die with it (they cannot be heard either).
    At start-up, with the peer never heard, a link never heard keeps initdead: a NIC still
    negotiating its link reports no carrier, and must not get a live peer declared dead."""
    lt = links[link]
    killed = not up and (lt.up is True or (lt.up is None and peer_alive))
    news = lt.report_carrier(up, last_ts, killed)
    if killed:
        for other in links.values():
            if other.up is None and other.carrier is False:
                other.mark_dead()
    return news, killed


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
    seen: dict[int, int] = field(default_factory=dict)  # sequence -> timestamp (sequences.py)
    frames_ok: int = 0  # accepted and echoing us: they refreshed the link
    duplicates: int = 0
    stale: int = 0
    replayed: int = 0
    unechoed: int = 0  # echoed nothing recent of ours: proved nothing (Freshness)
    unechoed_since_heard: int = 0
    late: int = 0
    max_gap: float = 0.0
    rtt: float | None = None
    echo_ts: int = 0  # the peer's timestamp_ms we echo on this link (0 = none yet)
    echo_at: float = 0.0
    echo_held: bool = False  # echo_ts is from an unproven frame: any accepted one replaces it
    expect_by: float | None = None  # added by a reload: never heard, dead if silent past this
    carrier: bool | None = None  # the driver's last report on the physical layer (None: none)
    carrier_floor: int | None = None  # our last timestamp before the carrier was lost
    paused: float = 0.0  # this node's pauses since last heard: not silence (pause.py)

    # -- timers

    def deadline(self, deadtime: float, grace: float, initdead_end: float | None) -> float | None:
        """When this link goes dead if nothing arrives: deadtime after it was last heard (or
        initdead after our first heartbeat, before the first frame), plus grace, plus the
        time this node was paused meanwhile (pause.py). None: already dead, or not started."""
        if self.up and self.last_heard is not None:
            return self.last_heard + deadtime + grace + self.paused
        if self.up is None and initdead_end is not None:
            if self.expect_by is not None:
                return max(initdead_end, self.expect_by) + grace + self.paused
            return initdead_end + grace + self.paused
        return None

    def mark_dead(self) -> int:
        """The link is dead; returns how many unechoed frames it carried since last heard."""
        self.up = False
        unechoed, self.unechoed_since_heard = self.unechoed_since_heard, 0
        return unechoed

    # -- the physical layer

    def report_carrier(self, up: bool, last_ts: int | None, kill: bool) -> str | None:
        """The driver's report on the physical layer; what to log after "Link PEER:LINK"
        (None: no news). Lost: only an echo of a timestamp sent after `last_ts` (our latest)
        proves the link again, and the link is dead now if `kill` (`carrier_report`
        decides). Back: the link stays as it is until a frame proves it; a report of a
        carrier never seen lost is no news."""
        was, self.carrier = self.carrier, up
        if up:
            return ": carrier back" if was is False else None
        if last_ts is not None:
            self.carrier_floor = last_ts
        if kill and self.up is not False:
            self.mark_dead()
            return " dead (carrier lost)."
        return ": carrier lost" if was is not False else None

    def proves_link(self, echo_ms: int) -> bool:
        """Whether a frame echoing `echo_ms` may count on this link: always, unless the
        carrier was lost since the link was last heard and the echo is of a timestamp sent
        before the loss (the first frame heard after it ends the wait: `refresh`)."""
        floor = self.carrier_floor
        return floor is None or ts_after(echo_ms, floor)

    # -- sequences

    def forget_sequences(self) -> None:
        """Another incarnation of the peer: its old sequence numbers mean nothing any more,
        and the next of its timestamps heard here replaces what we echo."""
        self.seen = {}
        self.echo_held = True

    def remember(self, seq: int, ts: int, newest: int) -> None:
        """This link carried the (accepted) frame `seq` with timestamp `ts`."""
        self.seen[seq] = ts
        prune(self.seen, newest)

    def count_replay(self) -> None:
        self.replayed += 1

    def count_unechoed(self) -> None:
        self.unechoed += 1
        self.unechoed_since_heard += 1

    def count_duplicate(self) -> None:
        self.duplicates += 1

    def count_stale(self) -> None:
        self.stale += 1

    # -- liveness, echoes, RTT

    def refresh(self, now: float, warntime: float) -> bool:
        """A fresh frame arrived: the link is heard now. True if the link just came up."""
        if self.last_heard is not None:
            gap = now - self.last_heard
            self.max_gap = max(self.max_gap, gap)
            if gap > warntime:
                self.late += 1
        self.last_heard = now
        self.frames_ok += 1
        self.unechoed_since_heard = 0
        self.carrier_floor = None  # heard: it carries frames again, whatever was lost
        self.paused = 0.0
        came_up = self.up is not True
        self.up = True
        return came_up

    def hold_echo(self, timestamp_ms: int, now: float) -> None:
        """A frame heard while the peer is not (yet) alive, or on a link that is down: echo
        its timestamp, whatever it is, until an accepted frame replaces it. The peer may have
        restarted too, or lost our frames on this link, and needs our echo to prove us; in
        arrival order, so that one replayed frame cannot pin the echo."""
        self.echo_ts, self.echo_at, self.echo_held = timestamp_ms, now, True

    def note_peer_timestamp(self, timestamp_ms: int, now: float) -> None:
        """Keep the peer's newest timestamp on this link: it is echoed back on this link."""
        if self.echo_held or self.echo_ts == 0 or ts_after(timestamp_ms, self.echo_ts):
            self.echo_ts, self.echo_at, self.echo_held = timestamp_ms, now, False

    def note_rtt(self, rtt_ms: int) -> None:
        """`rtt_ms` is u32 arithmetic: a "negative" RTT (clock oddity) is ignored."""
        if rtt_ms < 0x80000000:
            self.rtt = rtt_ms / 1000.0

    def echo(self, now: float) -> LinkEcho:
        """What our next frame on this link echoes: the peer's timestamp and the ms since,
        saturating at the wire's u16 (docs/protocol.md): a peer silent for over 65.5 s must
        not make our heartbeat unencodable."""
        delay = min(round((now - self.echo_at) * 1000), ECHO_DELAY_MAX) if self.echo_ts else 0
        return LinkEcho(link=self.link, echo_ms=self.echo_ts, echo_delay_ms=delay)
