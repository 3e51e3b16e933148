"""Core heartbeats (heartbeat.py): nothing is sent before the leftovers are known; then one
frame every keepalive and at once on any change, sequence and timestamp increasing."""

from __future__ import annotations

from core_helpers import ETH, PARAMS, TTY, last_hb

from twinbeat.core import (
    LeftoversFound,
    LinkEcho,
    Node,
    SendHeartbeat,
    Started,
    StatusChanged,
    Tick,
)


def test_start_up_sends_nothing_until_leftovers_are_known_then_joins() -> None:
    node = Node(PARAMS, 0.0)
    assert node.next_deadline() is None
    assert node.feed(Started(), 0.0) == [
        StatusChanged("probing; holding 0/2 groups; prime unheard (0/2 links)")
    ]
    assert node.snapshot().state == "probing"
    acts = node.feed(LeftoversFound(()), 0.0)
    assert acts == [
        SendHeartbeat(
            sequence=1, node_state=1, node_flags=0, groups=bytes([0, 0]),
            echoes=(LinkEcho(ETH, 0, 0), LinkEcho(TTY, 0, 0)),
            timestamp_ms=1,  # 0 is reserved for "no echo"
        ),
        StatusChanged("joining; holding 0/2 groups; prime unheard (0/2 links)"),
    ]
    assert node.snapshot().state == "joining"
    assert node.next_deadline() == 2.0


def test_heartbeat_every_keepalive_with_increasing_sequence() -> None:
    node = Node(PARAMS, 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    assert node.feed(Tick(), 1.9) == []
    hb = last_hb(node.feed(Tick(), 2.0))
    assert (hb.sequence, hb.timestamp_ms, hb.node_state) == (2, 2000, 1)
    hb = last_hb(node.feed(Tick(), 4.25))
    assert (hb.sequence, hb.timestamp_ms) == (3, 4250)
    assert node.next_deadline() == 6.25
