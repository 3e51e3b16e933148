"""The core's counters for the metrics: acquisitions, takeovers and failovers per group, and
fence attempts and outcomes since start-up (docs/metrics.md).

A takeover is a start that took the group over from the peer (the log's "took over from");
a failover is a takeover claimed while the peer was dead. Starts of a group nobody held
count as acquisitions only.
"""

from __future__ import annotations

from core_helpers import (
    HELD,
    NONE,
    PARAMS,
    YIELD,
    A,
    B,
    joined,
    orders,
    ts_of,
)

from twinbeat.core import GroupSnapshot, GroupStarted, Node, StartGroup, Tick


def counts(node: Node, key: str) -> tuple[int, int, int]:
    group: GroupSnapshot = next(g for g in node.snapshot().groups if g.key == key)
    return group.acquired, group.takeovers, group.failovers


def test_a_group_taken_from_a_dead_peer_is_a_failover() -> None:
    node, peer, echo = joined(peer_groups=bytes([HELD, NONE]))
    acts = node.feed(peer.frame(3.0, groups=bytes([HELD, NONE]), echo=echo), 3.0)
    assert orders(acts) == [StartGroup(B)]
    node.feed(GroupStarted(B), 3.1)
    assert counts(node, B) == (1, 0, 0)  # calc's own group, nobody held it: no takeover
    assert counts(node, A) == (0, 0, 0)
    while (t := node.next_deadline()) is not None and t < 30.0:
        acts = node.feed(Tick(), t)
        if StartGroup(A) in orders(acts):
            break
    else:
        raise AssertionError("no takeover of A after the peer's death")
    node.feed(GroupStarted(A), t)
    assert counts(node, A) == (1, 1, 1)
    assert counts(node, B) == (1, 0, 0)


def test_a_group_handed_over_by_a_live_peer_is_a_takeover_not_a_failover() -> None:
    node, peer, echo = joined(peer_groups=bytes([HELD, NONE]))
    # prime stands by for A (YIELD) and releases it; calc claims it once prime shows it idle
    # and has echoed the claim
    frames = [(2.0, HELD | YIELD), *((t, NONE | YIELD) for t in (2.5, 3.0, 3.5, 4.0))]
    started = False
    for t, theirs in frames:
        acts = node.feed(peer.frame(t, groups=bytes([theirs, NONE]), echo=echo), t)
        echo = ts_of(acts, echo)
        for order in orders(acts):
            if isinstance(order, StartGroup):
                node.feed(GroupStarted(order.key), t)
                started = started or order.key == A
    assert started, "calc never started A"
    assert counts(node, A) == (1, 1, 0)
    assert counts(node, B) == (1, 0, 0)


def test_counters_start_at_zero() -> None:
    node = Node(PARAMS, 0.0)
    assert [counts(node, key) for key in (A, B)] == [(0, 0, 0), (0, 0, 0)]
