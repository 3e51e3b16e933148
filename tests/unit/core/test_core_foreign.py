"""A peer that still runs heartbeat 3.0.6 (core/foreign.py, issue #14 step 1), step by step.

The node is calc; prime speaks heartbeat: its verified messages arrive as ForeignHeartbeat.
calc must never start a group while prime is heard, must give up what it holds, and must
take everything over once prime has been silent on every link for deadtime.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from core_helpers import (
    ETH,
    PARAMS,
    TTY,
    A,
    B,
    Peer,
    group_state,
    holding,
    joined,
    logs,
    orders,
    ts_of,
)

from twinbeat.control.statusview import status_view
from twinbeat.core import (
    PROTOCOL_HEARTBEAT,
    Action,
    CoreMisuse,
    FencePeer,
    ForeignHeartbeat,
    GroupStarted,
    GroupStopped,
    LeftoversFound,
    Node,
    PeerFenced,
    Started,
    StartGroup,
    StopGroup,
    TakeoverRequested,
    Tick,
)
from twinbeat.core.handoff import HELD_OFF

# auto_failback legacy: twinbeat does not speak heartbeat's ip-request hand-off, so it stays
# silent and holds off (issue #14 step 1); test_core_r1.py has the negotiation (step 2).
LEGACY = replace(PARAMS, legacy_failback=True)
KEEPALIVE = PARAMS.keepalive
GRACE = 0.05  # liveness.grace(2.0)


@dataclass
class HeartbeatPeer:
    """prime running heartbeat 3.0.6: a status message per keepalive, on every link."""

    name: str = "prime"
    generation: int = 0x6B06886D
    sequence: int = 0
    status: str = "active"

    def status_on(self, link: str, *, new: bool = True, kind: str = "status",
                  generation: int | None = None) -> ForeignHeartbeat:
        if new:
            self.sequence += 1
        return ForeignHeartbeat(
            link=link, peer=self.name, protocol=PROTOCOL_HEARTBEAT, message_type=kind,
            status=self.status if kind == "status" else None,
            generation=self.generation if generation is None else generation,
            sequence=self.sequence,
        )

    def beat(self, node: Node, now: float) -> list[Action]:
        """One status message, sent on both links as heartbeat does."""
        return node.feed(self.status_on(ETH), now) + node.feed(self.status_on(TTY, new=False),
                                                               now)


def started(node: Node, t: float) -> list[Action]:
    node.feed(Started(), t)
    return node.feed(LeftoversFound(()), t)


def run(node: Node, hb: HeartbeatPeer, start: float, end: float) -> list[Action]:
    """hb beats every keepalive from `start` to `end`; Ticks fire when the node asks."""
    out: list[Action] = []
    t = start
    while t < end:
        out += hb.beat(node, t)
        due = node.next_deadline()
        while due is not None and due < t + KEEPALIVE:
            out += node.feed(Tick(), max(due, t))
            due = node.next_deadline()
            if due is not None and due <= t:
                break
        t += KEEPALIVE
    return out


def test_never_starts_a_group_while_a_heartbeat_peer_is_heard() -> None:
    node = Node(LEGACY, 0.0)
    acts = started(node, 0.0)
    hb = HeartbeatPeer()
    acts += run(node, hb, 0.5, 300.0)  # far past initdead and deadtime
    assert not [a for a in acts if isinstance(a, StartGroup)]
    said = logs(acts)
    speaks = [m for m in said if "speaks heartbeat 3.0.6 protocol" in m]
    assert speaks == [
        f"Node prime speaks heartbeat 3.0.6 protocol on link {link}: twinbeat does not speak "
        "its auto_failback legacy hand-off; not taking over its resource groups while it is "
        "heard" for link in (ETH, TTY)]
    assert not [m for m in said if "is dead" in m]
    snap = node.snapshot()
    assert snap.state == "active"
    (peer,) = snap.peers
    assert (peer.alive, peer.protocol, peer.state) == (True, PROTOCOL_HEARTBEAT, "active")
    assert peer.heartbeat is not None and peer.heartbeat.speaking
    assert peer.heartbeat.mode == "holding off"
    assert {fl.name for fl in peer.heartbeat.links} == {ETH, TTY}
    view = status_view(snap)
    assert view["peers"][0]["protocol"] == PROTOCOL_HEARTBEAT and not view["healthy"]


def test_a_pause_of_this_node_is_not_a_heartbeat_peer_s_silence() -> None:
    """Paused past heartbeat's deadtime (core/pause.py): the heartbeat 3.0.6 peer still
    speaks on waking, and its status read then keeps it; no takeover."""
    node = Node(LEGACY, 0.0)
    started(node, 0.0)
    hb = HeartbeatPeer()
    run(node, hb, 0.5, 20.0)
    t = node.snapshot().now + PARAMS.deadtime + 2  # fed nothing meanwhile
    acts = node.feed(Tick(), t) + hb.beat(node, t + 0.01) + run(node, hb, t + 2, t + 20)
    said = logs(acts)
    assert any(m.startswith("This node was paused for") for m in said), said
    assert not [m for m in said if "status for deadtime" in m or "is dead" in m], said
    assert not [a for a in acts if isinstance(a, StartGroup)]


def test_a_silent_heartbeat_peer_is_dead_after_deadtime_and_everything_is_taken_over() -> None:
    node = Node(LEGACY, 0.0)
    started(node, 0.0)
    hb = HeartbeatPeer()
    run(node, hb, 0.5, 60.0)
    last = 58.5  # the last beat `run` sent
    acts: list[Action] = []
    while (due := node.next_deadline()) is not None and due < last + 30:
        acts += node.feed(Tick(), due)
        if any(isinstance(a, StartGroup) for a in acts):
            break
    starts = [a.key for a in acts if isinstance(a, StartGroup)]
    assert sorted(starts) == sorted([A, B])
    assert node.snapshot().now <= last + PARAMS.deadtime + GRACE + 1e-9
    said = logs(acts)
    assert "Node prime: no heartbeat 3.0.6 status for deadtime on any link" in said
    assert "node prime: is dead" in said
    t = node.snapshot().now
    done: list[Action] = []
    for key in starts:
        done += node.feed(GroupStarted(key), t)
    assert "mach_down takeover complete for node prime." in logs(done)
    assert f"Resource group {A} acquired (took over from prime)" in logs(done)


def test_with_fencing_a_silent_heartbeat_peer_is_fenced_before_anything_is_taken_over() -> None:
    # It may hold every group (heartbeat's mach_down): fencing.py must treat it so.
    node = Node(replace(LEGACY, fencing=True), 0.0)
    started(node, 0.0)
    run(node, HeartbeatPeer(), 0.5, 60.0)
    acts: list[Action] = []
    while (due := node.next_deadline()) is not None and due < 120.0:
        acts += node.feed(Tick(), due)
        if any(isinstance(a, FencePeer) for a in acts):
            break
    assert [a.peer for a in acts if isinstance(a, FencePeer)] == ["prime"]
    assert not [a for a in acts if isinstance(a, StartGroup)]
    t = node.snapshot().now
    acts = node.feed(Tick(), t + 5.0)  # the fence is slow: still nothing started
    assert not [a for a in acts if isinstance(a, StartGroup)]
    acts = node.feed(PeerFenced("prime"), t + 6.0)
    assert sorted(a.key for a in acts if isinstance(a, StartGroup)) == sorted([A, B])


def test_a_node_holding_groups_gives_them_up_when_a_heartbeat_peer_appears() -> None:
    node, t = holding(LEGACY)
    assert group_state(node, A) == group_state(node, B) == "held"
    hb = HeartbeatPeer(status="up")
    acts = hb.beat(node, t + 1)
    assert sorted(a.key for a in orders(acts) if isinstance(a, StopGroup)) == sorted([A, B])
    assert any("runs heartbeat 3.0.6 and takes every resource group: giving up" in m
               for m in logs(acts))
    for key in (A, B):
        acts += node.feed(GroupStopped(key), t + 1)
    acts += run(node, hb, t + 2, t + 100)
    assert not [a for a in acts if isinstance(a, StartGroup)]


def test_the_same_status_on_both_links_counts_once_and_a_replay_keeps_nothing_alive() -> None:
    node = Node(LEGACY, 0.0)
    started(node, 0.0)
    hb = HeartbeatPeer()
    hb.beat(node, 1.0)
    stuck = hb.status_on(ETH, new=False)  # the same message, over and over
    acts: list[Action] = []
    for i in range(1, 40):
        acts += node.feed(stuck, 1.0 + i)
        acts += node.feed(Tick(), 1.0 + i)
    assert {a.key for a in acts if isinstance(a, StartGroup)} == {A, B}
    first_start = next(i for i, a in enumerate(acts) if isinstance(a, StartGroup))
    assert "node prime: is dead" in logs(acts[:first_start])


def test_an_older_generation_is_a_replay_and_other_messages_only_refresh_the_link() -> None:
    node = Node(LEGACY, 0.0)
    started(node, 0.0)
    hb = HeartbeatPeer()
    hb.beat(node, 1.0)
    acts: list[Action] = []
    for i in range(2, 40):
        acts += node.feed(hb.status_on(ETH, generation=hb.generation - 1), float(i))
        acts += node.feed(hb.status_on(TTY, kind="NS_ackmsg"), float(i))
        acts += node.feed(Tick(), float(i))
    assert {a.key for a in acts if isinstance(a, StartGroup)} == {A, B}
    (peer,) = node.snapshot().peers
    assert peer.heartbeat is not None
    links = {fl.name: fl for fl in peer.heartbeat.links}
    assert links[ETH].replayed == 38 and links[TTY].messages == 39


def test_twinbeat_frames_win_then_heartbeat_keeps_the_peer_alive_when_they_stop() -> None:
    """prime's twinbeat frames prove it runs twinbeat: heartbeat messages from it (a replay,
    or both daemons on prime) change nothing. Once the frames stop and only heartbeat is
    heard, calc holds off: it gives up what it holds and does not declare prime dead."""
    node, peer, echo = joined(LEGACY)
    hb = HeartbeatPeer()
    t = 1.0
    for _ in range(10):  # prime alive in both protocols; calc acquires B (its own group)
        t += KEEPALIVE
        peer.heard = echo
        acts = node.feed(peer.frame(t), t) + hb.beat(node, t)
        for key in [a.key for a in acts if isinstance(a, StartGroup)]:
            acts += node.feed(GroupStarted(key), t)
        echo = ts_of(acts, echo)
    assert group_state(node, B) == "held"
    assert node.snapshot().peers[0].protocol == "twinbeat"
    later = run(node, hb, t + KEEPALIVE, t + 60)  # frames stop; heartbeat goes on
    assert [a.key for a in later if isinstance(a, StopGroup)] == [B]
    assert not [a for a in later if isinstance(a, StartGroup)]
    assert not [m for m in logs(later) if "is dead" in m]
    assert node.snapshot().peers[0].protocol == PROTOCOL_HEARTBEAT


def test_unknown_senders_are_counted_and_our_own_name_ignored() -> None:
    node = Node(LEGACY, 0.0)
    started(node, 0.0)
    node.feed(HeartbeatPeer(name="dana").status_on(ETH), 1.0)
    node.feed(HeartbeatPeer(name="calc").status_on(ETH), 1.0)
    snap = node.snapshot()
    assert {ls.name: ls.rejected for ls in snap.links}[ETH] == {"unknown-peer": 1}
    assert snap.peers[0].heartbeat is None


def test_handoffs_are_refused_while_holding_off() -> None:
    node = Node(LEGACY, 0.0)
    started(node, 0.0)
    HeartbeatPeer().beat(node, 1.0)
    assert node.handoff_plan(TakeoverRequested("all")).refusal == HELD_OFF


def test_misuse() -> None:
    node = Node(LEGACY, 0.0)
    ev = HeartbeatPeer().status_on(ETH)
    with pytest.raises(CoreMisuse):
        node.feed(ForeignHeartbeat(**{**ev.__dict__, "link": "eth9"}), 0.0)
    with pytest.raises(CoreMisuse):
        node.feed(ForeignHeartbeat(**{**ev.__dict__, "protocol": "openais"}), 0.0)


def test_peer_helper_is_the_twinbeat_one() -> None:
    assert Peer().name == HeartbeatPeer().name  # the same peer, two protocols
