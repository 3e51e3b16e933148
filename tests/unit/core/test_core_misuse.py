"""Illegal input raises CoreMisuse (a ValueError) and changes nothing."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from core_helpers import A, B, Peer, holding, joined, params

from twinbeat.core import (
    CoreMisuse,
    FrameReceived,
    GroupSpec,
    GroupStarted,
    GroupStartFailed,
    GroupStopFailed,
    GroupStopped,
    LeftoversFound,
    Node,
    PingReachability,
    ShutdownRequested,
    StandbyRequested,
    Started,
    TakeoverRequested,
    Tick,
)


@pytest.mark.parametrize(
    "event",
    [
        GroupStarted(B),  # claimed but never started
        GroupStartFailed(A, "x"),  # never started
        GroupStopped(A),  # never stopped
        GroupStopFailed(B, "x"),
        GroupStarted("IPaddr::10.9.9.9"),  # unknown key
        Started(),  # twice
        LeftoversFound(()),  # after joining
        StandbyRequested("everything"),
        TakeoverRequested(""),
        PingReachability(True),  # no ping configured
        "not an event",
    ],
)
def test_illegal_event_raises_and_changes_nothing(event: object) -> None:
    node, peer, echo = joined()
    before = asdict(node.snapshot())
    deadline = node.next_deadline()
    with pytest.raises(CoreMisuse):
        node.feed(event, 1.5)  # type: ignore[arg-type]
    assert asdict(node.snapshot()) == before
    assert node.next_deadline() == deadline
    # and the node carries on normally
    node.feed(peer.frame(2.0, echo=echo), 2.0)
    assert isinstance(CoreMisuse("x"), ValueError)


def test_unknown_link_in_a_frame() -> None:
    node, peer, _ = joined()
    frame = peer.frame(2.0)
    bad = FrameReceived(**{**asdict(frame), "link": "eth9"})
    with pytest.raises(CoreMisuse):
        node.feed(bad, 2.0)


def test_time_going_backwards() -> None:
    node, _peer, _ = joined()
    with pytest.raises(CoreMisuse, match="backwards"):
        node.feed(Tick(), 0.5)


def test_leftovers_before_started_and_unknown_leftover_key() -> None:
    node = Node(params(), 0.0)
    with pytest.raises(CoreMisuse):
        node.feed(LeftoversFound(()), 0.0)
    node.feed(Started(), 0.0)
    with pytest.raises(CoreMisuse):
        node.feed(LeftoversFound(("nope",)), 0.0)
    assert node.snapshot().state == "probing"


def test_feeding_after_gone() -> None:
    node, t = holding()
    node.feed(ShutdownRequested(), t)
    node.feed(GroupStopped(B), t)
    node.feed(GroupStopped(A), t)
    assert node.snapshot().state == "gone"
    with pytest.raises(CoreMisuse, match="gone"):
        node.feed(Tick(), t + 1)
    with pytest.raises(CoreMisuse):
        node.feed(Peer().frame(t + 1), t + 1)


@pytest.mark.parametrize(
    "bad",
    [
        {"peer": "calc"},
        {"peer": ""},
        {"peer": None},  # group A's primary is prime, then not a node
        {"links": ()},
        {"keepalive": 20.0},
        {"groups": (GroupSpec("x", "nobody"),)},
        {"groups": (GroupSpec("x", "calc"), GroupSpec("x", "prime"))},
    ],
)
def test_bad_params(bad: dict[str, object]) -> None:
    with pytest.raises(CoreMisuse):
        Node(params(**bad), 0.0)


