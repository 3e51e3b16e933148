"""Standby/takeover plans (handoff.py): which groups move, from where to where, or why not."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from core_helpers import (
    HELD,
    JOINING,
    NONE,
    STARTING,
    A,
    B,
    Peer,
    holding,
    joined,
    last_hb,
    logs,
    orders,
    params,
)

from twinbeat.core import (
    CoreMisuse,
    GroupSpec,
    GroupStopped,
    HandoffPlan,
    LeftoversFound,
    Node,
    StandbyRequested,
    Started,
    StopGroup,
    TakeoverRequested,
)
from twinbeat.core.handoff import NO_PEER, PEER_DEAD


def test_standby_local_plans_the_local_group_and_completes_when_the_peer_holds_it() -> None:
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    node.feed(peer.frame(t + 1), t + 1)
    request = StandbyRequested("local")
    plan = node.handoff_plan(request)
    assert plan == HandoffPlan(keys=(B,), source="calc", target="prime")
    assert node.handoff_plan(StandbyRequested("all")).keys == (A, B)
    assert not plan.complete(node.snapshot())
    acts = node.feed(request, t + 2)
    assert orders(acts) == [StopGroup(B)]
    node.feed(GroupStopped(B), t + 3)
    assert not plan.complete(node.snapshot())  # nobody holds it yet
    # The snapshot's holder counts a node starting the group (as the daemon always did).
    node.feed(peer.frame(t + 4, groups=bytes([NONE, STARTING])), t + 4)
    assert plan.complete(node.snapshot())
    node.feed(peer.frame(t + 5, groups=bytes([NONE, HELD])), t + 5)
    assert plan.complete(node.snapshot())


def test_takeover_plans_what_the_peer_holds() -> None:
    node, _peer, _ = joined(params(auto_failback=False), peer_groups=bytes([HELD, HELD]))
    plan = node.handoff_plan(TakeoverRequested("foreign"))
    assert plan == HandoffPlan(keys=(A,), source="prime", target="calc")
    assert node.handoff_plan(TakeoverRequested("local")).keys == (B,)
    assert node.handoff_plan(TakeoverRequested("all")).keys == (A, B)
    assert node.handoff_plan(StandbyRequested("all")).keys == ()  # calc holds nothing


def test_with_the_peer_dead_every_request_is_refused() -> None:
    node, _t = holding()
    for request in (StandbyRequested("all"), TakeoverRequested("foreign")):
        plan = node.handoff_plan(request)
        assert (plan.keys, plan.refusal) == ((), PEER_DEAD)
        assert plan.complete(node.snapshot())  # a refused plan moves nothing
    assert node.handoff_plan(StandbyRequested("all")).target == "prime"


def test_without_a_peer_there_is_nobody_to_hand_over_to() -> None:
    node = Node(params(peer=None, groups=(GroupSpec(B, "calc"),)), 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    plan = node.handoff_plan(StandbyRequested("all"))
    assert plan == HandoffPlan(keys=(), source="calc", target=None, refusal=NO_PEER)


def test_the_plan_is_refused_exactly_when_the_core_refuses_the_request() -> None:
    # The peer is alive but only joining: standby has nobody active to take the groups.
    node = Node(params(), 0.0)
    node.feed(Started(), 0.0)
    hb = last_hb(node.feed(LeftoversFound(()), 0.0))
    node.feed(Peer().frame(1.0, state=JOINING, echo=hb.timestamp_ms), 1.0)
    plan = node.handoff_plan(StandbyRequested("all"))
    assert plan.refusal == "no other active node to take the resource groups"
    assert logs(node.feed(StandbyRequested("all"), 1.5)) == [
        "Standby request [all] refused: " + plan.refusal]
    assert node.handoff_plan(TakeoverRequested("all")).refusal is None
    # This node still cleaning up leftovers: a takeover is refused.
    node = Node(params(), 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound((B,)), 0.0)
    node.feed(Peer(heard=1).frame(1.0), 1.0)
    plan = node.handoff_plan(TakeoverRequested("all"))
    assert plan.refusal == "node not active"
    assert logs(node.feed(TakeoverRequested("all"), 1.5)) == [
        "Takeover request [all] refused: node not active"]


def test_planning_changes_nothing_and_checks_which() -> None:
    node, _peer, _ = joined(peer_groups=bytes([HELD, NONE]))
    before, deadline = asdict(node.snapshot()), node.next_deadline()
    node.handoff_plan(TakeoverRequested("all"))
    node.handoff_plan(StandbyRequested("local"))
    assert (asdict(node.snapshot()), node.next_deadline()) == (before, deadline)
    with pytest.raises(CoreMisuse, match="which must be one of"):
        node.handoff_plan(StandbyRequested("everything"))
