"""links/admission.py: which datagrams a UDP link hands to the MAC check (issue #11 item 4).

A third host's flood of forged frames must cost a budget of checks, not a CPU; the real
peer's frames must all reach the engine, the first one included, flood or not.
"""

from __future__ import annotations

import random

import trio
import trio.testing

from twinbeat.config.model import Bcast, Link
from twinbeat.links.admission import (
    MAX_PROVEN,
    MAX_SOURCES,
    PER_SOURCE_BURST,
    PER_SOURCE_RATE,
    UNPROVEN_BURST,
    SourceBudget,
)
from twinbeat.links.udp import DRAIN_BATCH, UdpLink

PEER, ATTACKER = "198.18.2.2", "198.18.2.66"


def test_one_unproven_source_gets_a_burst_then_a_rate() -> None:
    budget = SourceBudget()
    assert sum(budget.admit(ATTACKER, 10.0) for _ in range(1000)) == PER_SOURCE_BURST
    later = sum(budget.admit(ATTACKER, 10.5) for _ in range(1000))
    assert later == int(PER_SOURCE_RATE * 0.5)


def test_a_flooding_source_leaves_another_sources_budget_alone() -> None:
    budget = SourceBudget()
    for _ in range(10_000):
        budget.admit(ATTACKER, 1.0)
    assert budget.admit(PEER, 1.0)  # the peer's first frame is checked at once


def test_all_unproven_sources_together_are_capped() -> None:
    """Spoofed source addresses: each new one has a budget, the sum does not grow."""
    budget = SourceBudget()
    admitted = sum(budget.admit(f"198.19.{i // 250}.{i % 250}", 5.0) for i in range(20_000))
    assert admitted == UNPROVEN_BURST
    assert len(budget.unproven) == MAX_SOURCES


def test_a_proven_source_is_always_admitted() -> None:
    budget = SourceBudget()
    budget.authentic(PEER, 1.0)
    assert all(budget.admit(PEER, 1.0) for _ in range(10_000))
    assert PEER not in budget.unproven


def test_the_proven_set_is_bounded_and_forgets_the_longest_silent() -> None:
    budget = SourceBudget()
    for i in range(MAX_PROVEN):
        budget.authentic(f"198.18.4.{i}", float(i))
    budget.authentic(PEER, 100.0)
    assert len(budget.proven) == MAX_PROVEN
    assert "198.18.4.0" not in budget.proven and PEER in budget.proven


class FloodedSocket:
    """A socket that is never empty: `rate` datagrams a second in random order, forged ones
    from ATTACKER and one in `every` the peer's (recvfrom, as the kernel answers it)."""

    def __init__(self, clock: trio.testing.MockClock, rate: float, every: int) -> None:
        self.clock, self.rate, self.every = clock, rate, every
        self.rng = random.Random(11)
        self.sent = {PEER: 0, ATTACKER: 0}

    def recvfrom(self, size: int) -> tuple[bytes, tuple[str, int]]:
        self.clock.jump(1 / self.rate)
        source = PEER if self.rng.randrange(self.every) == 0 else ATTACKER
        self.sent[source] += 1
        return (b"peer" if source == PEER else b"forged"), (source, 694)


async def test_a_flood_from_a_third_host_costs_a_budget_and_no_peer_frame(
    mock_clock: trio.testing.MockClock,
) -> None:
    link = UdpLink(Link(name="eth1", link_id=0, medium=Bcast("eth1")), 694)
    checked: list[bytes] = []

    def deliver(name: str, data: bytes) -> bool:
        checked.append(data)
        return data == b"peer"  # what the engine says after the MAC check

    rate, seconds = 50_000.0, 2.0
    sock = FloodedSocket(mock_clock, rate, every=500)  # the peer: 100 frames a second
    start = trio.current_time()
    while trio.current_time() < start + seconds:
        link._drain(sock, deliver)  # type: ignore[arg-type]
    assert checked.count(b"peer") == sock.sent[PEER] > 150  # every one, the first included
    forged = checked.count(b"forged")
    assert forged <= PER_SOURCE_BURST + PER_SOURCE_RATE * seconds + 1
    assert link.stats.unproven_dropped == sock.sent[ATTACKER] - forged
    assert sock.sent[ATTACKER] > DRAIN_BATCH * 100
