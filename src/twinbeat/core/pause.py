"""This node's own pauses: the core not fed for longer than its heartbeat allows.

Owns: `Pauses`, which notices them, and the rule of what a pause is. While this node sends
heartbeats a feed is due at least every keepalive (its own heartbeat is a timer), so a gap of
over STALL keepalives between two feeds means this process did not run: a hung kernel, a
SIGSTOP, a swap storm, a virtual machine descheduled by its host. corosync calls it a
"process pause" and does not judge its peers by it; neither do we (docs/core.md, Pauses):

- **Membership.** What this node did not watch is not the peer's silence. A pause's excess
  (its gap less the keepalive that was due anyway) is added to every link's deadline until
  the link is heard again (`LinkTracker.paused`). The peer's frames that waited in the
  kernel meanwhile are read as this node wakes up, and a peer paused with it (two nodes on
  one host, both descheduled) speaks as soon as it runs again; either proves it before its
  deadline. Without this a node waking from a 50 ms stall at a 40 ms deadtime declared its
  peer dead before reading the frames that said otherwise (issue #17, false takeovers).
  The pause counts again as soon as the node runs: a node starved into pausing every cycle
  still sees the peer die, later by the share of time it did not run.
- **Freshness.** Likewise the echo window (heartbeat.py `SentRange`): for one window after
  a pause it grows by the pause's excess. Otherwise the peer's frames, which can only echo
  what this node sent before it paused, would be refused as too old on both sides of a pause
  of both nodes, each echoing only the other's old timestamps, until the links died.
- **Fencing.** A node that finds its peer dead just after a pause waits STALL keepalives
  before its first attempt (fencing.py).

Pauses are counted for the status and logged, at most one line per LOG_EVERY seconds, so a
starved node does not flood its own log.
"""

from __future__ import annotations

from collections import deque

from .events import Action, Log

STALL = 2.0  # x keepalive: a longer gap between two feeds means this node paused
LOG_EVERY = 60.0  # seconds between two "paused" lines (the rest are counted in the next)
RECENT = 64  # pauses kept for `excess_within`: bounded, however long a starved node runs


class Pauses:
    """When this node last paused, and for how long. See the module docstring."""

    def __init__(self, keepalive: float, now: float) -> None:
        self.keepalive = keepalive
        self.count = 0  # pauses since start-up
        self.longest = 0.0  # the longest gap, seconds
        self.resumed_at: float | None = None  # the first feed after the latest pause
        self._fed_at = now
        self._logged_at: float | None = None
        self._unlogged = 0  # pauses since the last line
        # (resumed at, excess), newest last; pruned by `excess_within`, and by its bound when
        # no frame asks (a starved node whose peer is silent).
        self._recent: deque[tuple[float, float]] = deque(maxlen=RECENT)

    def fed(self, now: float, *, due: bool, out: list[Action]) -> float:
        """A feed at `now`; `due` says whether one was due every keepalive before it (this
        node sends heartbeats). Returns the pause's excess just ended (0.0: none)."""
        gap, self._fed_at = now - self._fed_at, now
        if not due or gap <= STALL * self.keepalive:
            return 0.0
        self.count += 1
        self.longest = max(self.longest, gap)
        self.resumed_at = now
        self._recent.append((now, gap - self.keepalive))
        self._unlogged += 1
        if self._logged_at is None or now - self._logged_at >= LOG_EVERY:
            more = self._unlogged - 1
            more_text = f" ({more} more since the last report)" if more else ""
            out.append(Log("warning", f"This node was paused for {gap * 1000:.0f} ms{more_text}: "
                                      "the peer's silence meanwhile is not counted against it"))
            self._logged_at, self._unlogged = now, 0
        return gap - self.keepalive

    def excess_within(self, now: float, window: float) -> float:
        """The excess of the pauses that ended less than `window` ago (heartbeat.py: the echo
        window grows by it, so that the peer's frames echoing what we sent just before a
        pause stay fresh after it; a frame sent since cannot echo anything newer)."""
        recent = self._recent
        while recent and now - recent[0][0] >= window:
            recent.popleft()
        return sum(excess for _, excess in recent)

    def just_resumed(self, now: float) -> float | None:
        """When the grace after the latest pause ends, if `now` is within it (fencing.py)."""
        if self.resumed_at is None:
            return None
        end = self.resumed_at + STALL * self.keepalive
        return end if now < end else None
