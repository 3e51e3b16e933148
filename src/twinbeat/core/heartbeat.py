"""When this node sends a heartbeat, and what the frame's sequence and timestamp are.

Owns: `Heartbeats`: the sequence counter, the timestamps this incarnation has sent (a valid
echo lies between the first and the latest: `SentRange`), the time the next keepalive is
due, the state last advertised, and whether an answer is owed at once.
Heartbeats go out every keepalive (ha.cf `keepalive`), at once when the advertised state
changes, and at once when membership.py says an answer is owed (the peer came alive, changed
state, claims a group: the claim waits for our echo). After the node is gone, one final
frame (GONE) and then `ShutdownComplete`. Must not import another core module's state, nor
anything doing I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import Action, LinkEcho, SendHeartbeat, ShutdownComplete
from .states import SENDING_PHASES, U32, Phase, ts_after, wire_ms

# What a frame advertises: node state, node flags, one byte per group.
Advertised = tuple[int, int, bytes]


@dataclass(frozen=True)
class SentRange:
    """The first and latest timestamp this incarnation has sent: a valid echo lies within."""

    first: int | None
    last: int | None

    def contains(self, echo: int) -> bool:
        if self.first is None or self.last is None:
            return False
        return not ts_after(self.first, echo) and not ts_after(echo, self.last)


class Heartbeats:
    """The sending side of the protocol. See the module docstring."""

    def __init__(self, keepalive: float) -> None:
        self._keepalive = keepalive
        self._sequence = 0
        self._next_send: float | None = None
        self._last_sent: Advertised | None = None
        self._first_ts: int | None = None
        self._last_ts: int | None = None
        self._answer_owed = False
        self._final_sent = False

    @property
    def last_ts(self) -> int | None:
        """The timestamp of our latest heartbeat (a claim must be echoed past it)."""
        return self._last_ts

    def sent(self) -> SentRange:
        return SentRange(self._first_ts, self._last_ts)

    def answer_now(self) -> None:
        self._answer_owed = True

    def deadline(self, phase: Phase) -> float | None:
        """When the next keepalive is due (None when this node is not sending)."""
        return self._next_send if phase in SENDING_PHASES else None

    def due(self, phase: Phase, now: float, state: Advertised) -> bool:
        """Whether a heartbeat goes out now: keepalive due, state changed, or answer owed."""
        final = phase is Phase.GONE and not self._final_sent
        if phase not in SENDING_PHASES and not final:
            return False
        return (
            self._next_send is None
            or now >= self._next_send
            or state != self._last_sent
            or self._answer_owed
        )

    def send(
        self, phase: Phase, now: float, state: Advertised, echoes: tuple[LinkEcho, ...]
    ) -> list[Action]:
        """The heartbeat (and after the final one, `ShutdownComplete`); call when `due`."""
        self._sequence = (self._sequence + 1) & U32 or 1
        ts = wire_ms(now) or 1  # 0 means "no echo" on the wire
        out: list[Action] = [
            SendHeartbeat(sequence=self._sequence, node_state=state[0], node_flags=state[1],
                          groups=state[2], echoes=echoes, timestamp_ms=ts)
        ]
        self._last_sent = state
        self._last_ts = ts
        if self._first_ts is None:
            self._first_ts = ts
        self._next_send = now + self._keepalive
        self._answer_owed = False
        if phase is Phase.GONE:
            self._final_sent = True
            out.append(ShutdownComplete())
        return out
