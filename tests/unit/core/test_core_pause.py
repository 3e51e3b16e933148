"""This node's own pauses (core/pause.py): what it did not watch is not the peer's silence.

At the `fast` preset (10 ms keepalive, 40 ms deadtime) a 50 ms pause of the host running
both lab nodes made the node that woke first declare its peer dead, take its group over, and
only then read the frames that said the peer was fine (issue #17, false takeovers).
"""

from __future__ import annotations

import re

import pytest
from core_helpers import (
    ETH,
    HELD,
    NONE,
    TTY,
    A,
    Peer,
    logs,
    orders,
    params,
)

from twinbeat.core import (
    Action,
    LeftoversFound,
    LinkCarrier,
    Node,
    SendHeartbeat,
    Started,
    StartGroup,
    Tick,
)
from twinbeat.core.pause import LOG_EVERY, RECENT, Pauses

FAST = params(keepalive=0.01, deadtime=0.04, warntime=0.02, initdead=0.2)
DUE = 0.04 + 0.005  # deadtime + grace (half a keepalive)
PRIME_HOLDS_A = bytes([HELD, NONE])


class Pair:
    """calc's core fed as the daemon feeds it (a Tick at every deadline), and prime sending
    every keepalive on both links, echoing calc's latest heartbeat."""

    def __init__(self) -> None:
        self.peer = Peer()
        self.node = Node(FAST, 0.0)
        self.now = 0.0
        self.feed(Started(), 0.0)
        self.feed(LeftoversFound(()), 0.0)

    def feed(self, event: object, t: float) -> list[Action]:
        self.now = t
        acts = self.node.feed(event, t)  # type: ignore[arg-type]
        for a in acts:
            if isinstance(a, SendHeartbeat):
                self.peer.heard = a.timestamp_ms
        return acts

    def hear(self, t: float) -> list[Action]:
        first = self.peer.frame(t, groups=PRIME_HOLDS_A)
        copy = self.peer.frame(t, link=TTY, groups=PRIME_HOLDS_A, sequence=self.peer.sequence)
        return self.feed(first, t) + self.feed(copy, t)

    def run(self, until: float, *, prime_speaks: bool = True) -> list[Action]:
        """Both running until `until`: calc's deadlines, prime's frame every keepalive."""
        acts: list[Action] = []
        next_frame = self.now + 0.01
        while True:
            deadline = self.node.next_deadline() or until
            t = min(deadline, next_frame if prime_speaks else until, until)
            if t >= until:
                return acts
            if prime_speaks and t == next_frame:
                acts += self.hear(t)
                next_frame += 0.01
            else:
                acts += self.feed(Tick(), max(t, self.now))


def steady() -> Pair:
    pair = Pair()
    pair.run(0.5)
    assert pair.node.snapshot().peers[0].alive
    return pair


def test_a_pause_of_both_nodes_is_not_the_peer_dying() -> None:
    """The host stalls both lab nodes for 60 ms. calc wakes first: prime, silent for 60 ms
    by the clock, is not dead, and its first frame after the stall keeps it alive."""
    pair = steady()
    t = pair.now + 0.06
    acts = pair.feed(Tick(), t)
    assert "node prime: is dead" not in logs(acts)
    assert not [m for m in logs(acts) if m.endswith("dead.")]
    assert [m for m in logs(acts) if "paused" in m] == [
        "This node was paused for 60 ms: the peer's silence meanwhile is not counted "
        "against it"]
    acts = pair.hear(t + 0.001) + pair.run(t + 0.5)
    assert pair.node.snapshot().peers[0].alive
    assert orders(acts) == []
    snap = pair.node.snapshot()
    assert snap.pauses == 1 and round(snap.longest_pause, 3) == 0.06


def test_a_peer_that_stays_silent_after_the_pause_dies_later_by_the_pause() -> None:
    pair = steady()
    last_heard = pair.now - pair.now % 0.01  # prime's last frame (every 10 ms)
    last_fed = pair.now
    t = last_fed + 0.06
    pair.feed(Tick(), t)
    excess = t - last_fed - 0.01  # the pause less the keepalive that was due anyway
    dies_at = last_heard + DUE + excess
    pair.run(dies_at - 0.001, prime_speaks=False)
    assert pair.node.snapshot().peers[0].alive
    acts = pair.run(dies_at + 0.011, prime_speaks=False)
    assert "node prime: is dead" in logs(acts)
    assert StartGroup(A) in orders(acts)


def test_a_node_starved_into_pausing_every_cycle_still_sees_its_peer_die() -> None:
    """Fed every 30 ms (each gap a pause of 20 ms excess): the silence counts 10 ms per
    cycle, so prime dies about 5 cycles on, not at its deadline by the clock, and not never."""
    pair = steady()
    start, died = pair.now, None
    for k in range(1, 20):
        if "node prime: is dead" in logs(pair.feed(Tick(), start + 0.03 * k)):
            died = k
            break
    assert died is not None and 4 <= died <= 6


def test_pauses_are_logged_at_most_once_a_minute_and_all_counted() -> None:
    pair = steady()
    lines = []
    for start in (1.0, 2.0, 2.0 + LOG_EVERY):
        pair.run(start)
        acts = pair.feed(Tick(), start + 0.05)
        lines += [m for m in logs(acts) if "paused" in m]
        pair.hear(start + 0.051)
    assert len(lines) == 2
    assert re.fullmatch(r"This node was paused for \d+ ms: the peer's silence meanwhile is "
                        r"not counted against it", lines[0])
    assert re.fullmatch(r"This node was paused for \d+ ms \(1 more since the last report\): "
                        r"the peer's silence meanwhile is not counted against it", lines[1])
    assert pair.node.snapshot().pauses == 3


def test_a_node_that_does_not_send_yet_has_no_pauses() -> None:
    """Before its first heartbeat no feed is due: a 30 s probe of leftovers is no pause."""
    node = Node(FAST, 0.0)
    node.feed(Started(), 0.0)
    acts = node.feed(LeftoversFound(()), 30.0)
    assert not [m for m in logs(acts) if "paused" in m]
    assert node.snapshot().pauses == 0


def test_a_carrier_loss_after_a_pause_is_still_at_once() -> None:
    """The pause moves the silence deadlines only: the physical layer is not a timer."""
    pair = steady()
    t = pair.now + 0.06
    pair.feed(Tick(), t)
    pair.feed(LinkCarrier(TTY, up=False), t + 0.001)
    acts = pair.feed(LinkCarrier(ETH, up=False), t + 0.002)
    assert "node prime: is dead" in logs(acts)


def test_the_peer_s_first_frames_after_a_long_pause_of_both_are_fresh() -> None:
    """Both paused 200 ms (over the 80 ms echo window). prime's first frames can only echo
    what calc sent before the pause: they are fresh all the same (the window grows by the
    pause), so each side takes the other's news, and no link dies waiting for echoes that
    neither would send."""
    pair = steady()
    t = pair.now + 0.2
    acts = pair.hear(t)  # read as calc wakes, before its own overdue heartbeat
    acts += pair.run(t + 0.3)
    counters = [link.counters for link in pair.node.snapshot().peers[0].links]
    assert [c.unechoed for c in counters] == [0, 0]
    assert not [m for m in logs(acts) if "dead" in m]


def test_a_starved_node_keeps_a_bounded_record_of_its_pauses() -> None:
    """Pauses every cycle, the peer silent: what the echo window
    reads stays bounded (long uptimes)."""
    pauses, t = Pauses(0.01, 0.0), 0.0
    for _ in range(10 * RECENT):
        t += 0.03
        pauses.fed(t, due=True, out=[])
    assert pauses.excess_within(t, 1e9) == pytest.approx(RECENT * 0.02)  # the last RECENT
    assert pauses.count == 10 * RECENT
