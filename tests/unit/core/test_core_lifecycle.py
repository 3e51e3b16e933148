"""This node's lifecycle (node.py's phase, states.PHASE_TRANSITIONS): leftovers stopped before
joining, graceful shutdown releasing everything, then gone."""

from __future__ import annotations

from core_helpers import (
    GONE,
    JOINING,
    LEAVING,
    NONE,
    STARTING,
    STOPPING,
    A,
    B,
    Peer,
    group_state,
    holding,
    last_hb,
    logs,
    orders,
    params,
)

from twinbeat.core import (
    GroupStopped,
    LeftoversFound,
    Node,
    ShutdownComplete,
    ShutdownRequested,
    Started,
    StopGroup,
)


def test_shutdown_releases_in_reverse_start_order_then_gone() -> None:
    node, t = holding()  # started A then B
    acts = node.feed(ShutdownRequested(), t + 1)
    assert orders(acts) == [StopGroup(B), StopGroup(A)]
    assert last_hb(acts).node_state == LEAVING
    acts = node.feed(GroupStopped(B), t + 2)
    assert ShutdownComplete() not in acts
    acts = node.feed(GroupStopped(A), t + 3)
    hb = last_hb(acts)
    assert (hb.node_state, hb.groups) == (GONE, bytes([NONE, NONE]))
    assert acts[-2:] == [ShutdownComplete(), acts[-1]]  # then the final status line
    assert node.snapshot().state == "gone"
    assert node.next_deadline() is None
    assert node.feed(ShutdownRequested(), t + 4) == []


def test_second_shutdown_request_is_harmless() -> None:
    node, t = holding()
    first = node.feed(ShutdownRequested(), t + 1)
    assert orders(first) == [StopGroup(B), StopGroup(A)]
    again = node.feed(ShutdownRequested(), t + 1.5)
    assert orders(again) == []
    assert logs(again) == ["Shutdown already in progress"]


def test_leftovers_are_stopped_before_joining() -> None:
    node = Node(params(), 0.0)
    node.feed(Started(), 0.0)
    acts = node.feed(LeftoversFound((B,)), 0.1)
    assert orders(acts) == [StopGroup(B)]
    hb = last_hb(acts)
    assert (hb.node_state, hb.groups) == (JOINING, bytes([NONE, STOPPING]))
    peer = Peer()
    acts = node.feed(peer.frame(1.0, echo=hb.timestamp_ms), 1.0)
    assert orders(acts) == []
    assert node.snapshot().state == "cleaning"
    acts = node.feed(GroupStopped(B), 2.0)
    assert node.snapshot().state == "active"
    assert group_state(node, B) == "claiming"
    assert last_hb(acts).groups == bytes([NONE, STARTING])


def test_a_node_stopped_before_its_leftovers_are_known_leaves_without_a_word() -> None:
    """Regression (simulator seed 2969 of 3000): a daemon stopped while it still probed its
    leftovers (BOOT, PROBING: silent) used to say LEAVING and then GONE with every group
    NONE. Its peer took that for "released everything": a departing peer needs no ack and
    no fence, so it started a group that the crashed incarnation's leftovers still ran. A node
    that has not found out what runs here must not say that nothing does: it exits silently,
    and its peer judges it by its silence (dead, and with fencing fenced)."""
    from twinbeat.core import SendHeartbeat  # noqa: PLC0415

    for probed in (False, True):
        node = Node(params(), 0.0)
        acts = node.feed(Started(), 0.0)
        if probed:  # the probe answered: leftovers known, it may speak
            node.feed(LeftoversFound(()), 0.5)
        acts = node.feed(ShutdownRequested(), 1.0)
        frames = [a for a in acts if isinstance(a, SendHeartbeat)]
        assert ShutdownComplete() in acts
        assert node.snapshot().state == "gone"
        if probed:
            assert [f.node_state for f in frames] == [GONE]
        else:
            assert frames == []
