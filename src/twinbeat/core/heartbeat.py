"""When this node sends a heartbeat, and what the frame's sequence and timestamp are.

Owns: `Heartbeats`: the sequence counter, our timestamps (and which of them a fresh echo may
carry: `SentRange`), the time the next keepalive is due, the state last advertised, and
whether an answer is owed at once.
Heartbeats go out every keepalive (ha.cf `keepalive`), and **on change**: at once when the
advertised state changes (leaving, released, claimed, started...) and when membership.py says
an answer is owed (the peer came alive, changed state, claims a group and waits for our echo,
or sent a frame we can only echo back: first contact, a link coming back), so that a handoff
takes a few one-way delays, not keepalive ticks. Those unscheduled sends are rate-limited
against flapping by a token bucket (`SendBudget`: BURST at once, then REFILL per keepalive);
a change that finds the bucket empty goes out as soon as a token is back, or with the next
keepalive. Safety never depends on when a frame goes out (docs/core.md: the claim rule is
about echoes; the simulator stretches the cadence in some runs to check it), only on what it
says. After the node is gone, one final frame (GONE) and then `ShutdownComplete`. Must not
import another core module's state, nor anything doing I/O.

Timestamps are our monotonic clock in ms plus `Params.timestamp_origin` (the daemon draws it
at random per run), mod 2^32. The peer only echoes them back and orders them, so the origin
costs nothing; it makes the timestamps of this run unrelated to any earlier run's, even
after a reboot restarted the clock, so an old capture's echoes do not fall in our window.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import Action, LinkEcho, SendHeartbeat, ShutdownComplete
from .params import Params
from .pause import Pauses
from .states import SENDING_PHASES, U32, Phase, wire_ms

DEPARTED = (Phase.LEAVING, Phase.GONE)
# What a frame advertises: node state, node flags, one byte per group.
Advertised = tuple[int, int, bytes]
# A fresh echo is of a timestamp we sent within the last ECHO_WINDOW deadtimes (docs/core.md,
# Freshness). Older than that, the peer has not heard us on that link for longer than its
# own deadtime (deadtime > 2 keepalive): the link is dead at its end already.
ECHO_WINDOW = 2.0
# Unscheduled heartbeats: BURST in a row at once (a handoff takes a handful), then REFILL per
# keepalive. A flapping state or a flood of frames to answer costs at most that.
BURST = 8
REFILL = 4
# A keepalive due within EARLY keepalives goes out with a fresh frame of the peer, so that
# one wake-up serves both the frame received and the frame sent (issue #17: at a 10 ms
# keepalive the daemon's cost is mostly its wake-ups). With half a keepalive one of the two
# nodes always falls into step with the other's frames: it then sends on each of them, a
# keepalive apart; the other keeps its own time. Only the peer's fresh frames do this (a
# replay or a stranger's frame sends nothing), and at most twice a keepalive.
EARLY = 0.5


class SendBudget:
    """The token bucket of unscheduled heartbeats (see the module docstring)."""

    def __init__(self, keepalive: float) -> None:
        self._period = keepalive / REFILL  # one token back per period
        self._tokens = float(BURST)
        self._at: float | None = None  # when `_tokens` was last brought up to date

    def _refill(self, now: float) -> None:
        if self._at is not None:
            self._tokens = min(float(BURST), self._tokens + (now - self._at) / self._period)
        self._at = now

    def ready_at(self, now: float) -> float:
        """When the next unscheduled heartbeat may go out (`now` if it may now)."""
        self._refill(now)
        return now if self._tokens >= 1.0 else now + (1.0 - self._tokens) * self._period

    def spend(self, now: float) -> None:
        self._refill(now)
        self._tokens = max(0.0, self._tokens - 1.0)


@dataclass(frozen=True)
class SentRange:
    """Which of our timestamps a fresh echo may carry: one we sent in this run (at most
    `span_ms` before our latest, `last`) and less than `window_ms` before now (`now_ms`,
    our clock now on the wire's scale, which also gives the RTT)."""

    last: int | None
    span_ms: int
    now_ms: int
    window_ms: int

    def contains(self, echo: int) -> bool:
        if self.last is None or echo == 0:
            return False
        sent_in_run = (self.last - echo) & U32 <= self.span_ms
        return sent_in_run and (self.now_ms - echo) & U32 <= self.window_ms


class Heartbeats:
    """The sending side of the protocol. See the module docstring."""

    def __init__(self, params: Params, pauses: Pauses | None = None) -> None:
        self._pauses = pauses  # this node's (pause.py): they widen the echo window
        self._keepalive = params.keepalive
        self._early = EARLY * params.keepalive
        self._window_ms = round(ECHO_WINDOW * params.deadtime * 1000)
        self._origin = params.timestamp_origin
        self._sequence = (params.first_sequence - 1) & U32
        self._next_send: float | None = None
        self._last_sent: Advertised | None = None
        self._first: tuple[float, int] | None = None  # our first heartbeat: (time, ts)
        self._last_ts: int | None = None
        self._span_ms = 0
        self._answer_owed = False
        self._final_sent = False
        self._budget = SendBudget(params.keepalive)
        self._held: float | None = None  # an unscheduled heartbeat waits for a token until

    def reconfigure(self, params: Params) -> None:
        """A reload: the new keepalive (and echo window) from now on, and a heartbeat at once
        (on every link, new ones included; the fingerprint may have changed)."""
        self._keepalive = params.keepalive
        self._window_ms = round(ECHO_WINDOW * params.deadtime * 1000)
        self._answer_owed = True

    @property
    def last_ts(self) -> int | None:
        """The timestamp of our latest heartbeat (a claim must be echoed past it)."""
        return self._last_ts

    def stamp(self, now: float) -> int:
        """Our timestamp at `now` on the wire (never 0: 0 means "no echo")."""
        return (wire_ms(now) + self._origin) & U32 or 1

    def sent(self, now: float) -> SentRange:
        """What a fresh echo may carry now; after a pause of this node the window (and the
        span, once capped by it) grows by the pause's excess (pause.py)."""
        window, span = self._window_ms, self._span_ms
        if self._pauses is not None:
            window += round(self._pauses.excess_within(now, window / 1000) * 1000)
            if span == self._window_ms:
                span = window
        return SentRange(self._last_ts, span, self.stamp(now), window)

    def answer_now(self) -> None:
        self._answer_owed = True

    def deadline(self, phase: Phase) -> float | None:
        """When the next heartbeat is due: the keepalive, or sooner a change held back by
        the rate limit (None when this node is not sending)."""
        if phase not in SENDING_PHASES:
            return None
        if self._held is not None and self._next_send is not None:
            return min(self._held, self._next_send)
        return self._next_send

    def due(self, phase: Phase, now: float, state: Advertised, *, heard: bool = False) -> bool:
        """Whether a heartbeat goes out now: keepalive due (or nearly, when `heard`: a fresh
        frame of the peer was just taken in), or, within the rate limit, the state changed or
        an answer is owed. The final frame (GONE) is never held back."""
        final = phase is Phase.GONE and not self._final_sent
        if phase not in SENDING_PHASES and not final:
            return False
        if self._first is None and phase in DEPARTED:
            return final  # never spoke (`send`): leaves without a word
        if final or self._next_send is None or now >= self._next_send - heard * self._early:
            return True
        if state == self._last_sent and not self._answer_owed:
            self._held = None  # nothing new (a flap came back to what was sent)
            return False
        self._held = self._budget.ready_at(now)  # the deadline of what is held back
        return self._held <= now

    def send(
        self, phase: Phase, now: float, state: Advertised, echoes: tuple[LinkEcho, ...],
        fingerprint: int | None = None,
    ) -> list[Action]:
        """The heartbeat (and after the final one, `ShutdownComplete`); call when `due`.
        `fingerprint`: the peer's layout's when `state` is in it (layouts.py).

        A node that leaves before it ever spoke — stopped while it probed its leftovers
        (BOOT, PROBING are silent) — sends nothing at all: it does not know what still runs
        here, so it must not say LEAVING or GONE with its groups NONE, which its peer would
        take for "released everything" and start them (no ack, no fence needed). Its peer
        judges it by its silence instead."""
        if self._first is None and phase in DEPARTED:
            self._final_sent = True
            return [ShutdownComplete()] if phase is Phase.GONE else []
        self._sequence = (self._sequence + 1) & U32 or 1  # 0 is never sent
        ts = self.stamp(now)
        out: list[Action] = [
            SendHeartbeat(sequence=self._sequence, node_state=state[0], node_flags=state[1],
                          groups=state[2], echoes=echoes, timestamp_ms=ts,
                          fingerprint=fingerprint)
        ]
        if self._next_send is not None and now < self._next_send - self._early:
            self._budget.spend(now)  # unscheduled: a change or an answer
        self._last_sent = state
        self._note_sent(now, ts)
        self._next_send = now + self._keepalive
        self._answer_owed = False
        self._held = None
        if phase is Phase.GONE:
            self._final_sent = True
            out.append(ShutdownComplete())
        return out

    def _note_sent(self, now: float, ts: int) -> None:
        """A valid echo lies between our first timestamp and the latest, and within the
        window (the span is capped by time, so no amount of uptime makes it ambiguous)."""
        if self._first is None:
            self._first = (now, ts)
        first_at, first_ts = self._first
        if (now - first_at) * 1000 < self._window_ms:
            self._span_ms = (ts - first_ts) & U32
        else:
            self._span_ms = self._window_ms
        self._last_ts = ts
