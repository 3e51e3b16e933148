"""Core membership (membership.py, liveness.py): frame acceptance, links, the link quorum,
sequences, generations, RTT, counters; the peer-less (single-node) configuration."""

from __future__ import annotations

from dataclasses import replace

from core_helpers import (
    ACTIVE,
    ETH,
    HELD,
    NONE,
    PARAMS,
    TTY,
    A,
    B,
    Peer,
    joined,
    last_hb,
    logs,
    orders,
    params,
    tick_until,
)

from twinbeat.core import (
    GroupSpec,
    GroupStarted,
    LeftoversFound,
    LinkEcho,
    Node,
    SendHeartbeat,
    Started,
    StartGroup,
    StatusChanged,
    Tick,
)
from twinbeat.core.liveness import GRACE


def test_no_acquisition_before_initdead_then_peer_dead_and_takeover() -> None:
    node = Node(PARAMS, 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    assert orders(tick_until(node, 20.0)) == []
    assert node.snapshot().state == "joining"
    acts = node.feed(Tick(), 20.0 + GRACE)
    assert logs(acts)[:3] == ["Link prime:eth0 dead.", "Link prime:/dev/ttyS0 dead.",
                              "node prime: is dead"]
    assert "Comms up: local status now active" in logs(acts)
    # Alone: both groups are started, the peer's group included.
    assert orders(acts) == [StartGroup(A), StartGroup(B)]
    assert "acquiring resource group: " + A in logs(acts)


def test_first_frame_brings_link_up_and_comms_up() -> None:
    node, _peer, _ = joined()
    snap = node.snapshot()
    assert snap.state == "active"
    prime = snap.peers[0]
    assert (prime.name, prime.alive, prime.generation, prime.state) == ("prime", True, 3, "active")
    assert [(lk.name, lk.up) for lk in prime.links] == [(ETH, True), (TTY, None)]


def test_one_link_cut_is_a_warning_not_a_takeover() -> None:
    node, peer, echo = joined(peer_groups=bytes([2, 0]))
    node.feed(peer.frame(1.0, link=TTY, groups=bytes([2, 0]), sequence=1), 1.0)
    t = 1.0
    while t < 30:  # prime keeps talking on eth0 only
        t += 2.0
        acts = node.feed(peer.frame(t, groups=bytes([2, 0]), echo=echo), t)
        acts += node.feed(Tick(), t)
        for a in acts:
            if isinstance(a, SendHeartbeat):
                echo = a.timestamp_ms
        assert StartGroup(A) not in acts
        if t == 13.0:  # ttyS0 last heard at 1.0: dead after 10 s + grace
            assert "Link prime:/dev/ttyS0 dead." in logs(acts)
            assert "node prime: is dead" not in logs(acts)
    assert node.snapshot().peers[0].alive
    assert [lk.up for lk in node.snapshot().peers[0].links] == [True, False]


def test_both_links_cut_takeover_after_deadtime() -> None:
    node, peer, echo = joined(peer_groups=bytes([2, 0]))
    node.feed(peer.frame(1.0, link=TTY, groups=bytes([2, 0]), sequence=1), 1.0)
    acts = node.feed(peer.frame(3.0, groups=bytes([2, 0]), echo=echo), 3.0)
    assert orders(acts) == [StartGroup(B)]  # prime has seen calc's claim on B
    node.feed(peer.frame(3.5, groups=bytes([2, 0]), echo=last_hb(acts).timestamp_ms), 3.5)
    # Silence on both links from now on: eth0 last heard at 3.5, ttyS0 at 1.0.
    events: list[tuple[float, str]] = []
    while (t := node.next_deadline()) is not None and t < 13.6:
        acts = node.feed(Tick(), t)
        events += [(t, m) for m in logs(acts)]
        events += [(t, repr(o)) for o in orders(acts)]
    assert events == [
        (1.0 + 10.0 + GRACE, "Link prime:/dev/ttyS0 dead."),
        (3.5 + 10.0 + GRACE, "Link prime:eth0 dead."),
        (3.5 + 10.0 + GRACE, "node prime: is dead"),
        (3.5 + 10.0 + GRACE, "acquiring resource group: " + A),
        (3.5 + 10.0 + GRACE, repr(StartGroup(A))),
    ]
    assert node.snapshot().peers[0].alive is False
    assert node.snapshot().peers[0].state == "dead"
    acts = node.feed(GroupStarted(A), 13.7)
    assert logs(acts) == [
        f"Resource group {A} acquired (took over from prime)",
        "mach_down takeover complete for node prime.",
    ]


def test_heartbeat_exactly_at_deadtime_does_not_flap_the_link() -> None:
    node, peer, _ = joined()
    acts = node.feed(peer.frame(11.0), 11.0)  # exactly deadtime after the last one
    assert "Link prime:eth0 dead." not in logs(acts)
    assert "Link prime:eth0 up." not in logs(acts)
    assert node.snapshot().peers[0].links[0].max_gap == 10.0
    assert node.snapshot().peers[0].links[0].deadtime_margin == 0.0


def test_late_heartbeat_warning_in_heartbeat_wording() -> None:
    node, peer, _ = joined()
    acts = node.feed(peer.frame(7.234), 7.234)
    assert "Late heartbeat: Node prime: interval 6234 ms" in logs(acts)
    assert node.snapshot().peers[0].links[0].counters.late == 1


def test_replay_on_same_link_is_dropped_and_counted() -> None:
    node, peer, _ = joined()
    before = node.snapshot()
    f = peer.frame(2.0, groups=bytes([2, 0]))
    node.feed(f, 2.0)
    acts = node.feed(f, 2.5)  # the very same frame again
    assert acts == []
    c = node.snapshot().peers[0].links[0]
    assert (c.counters.frames_ok, c.counters.replayed) == (2, 1)
    assert c.last_heard_age == 0.5  # the replay did not refresh the link
    assert before.peers[0].links[0].counters.replayed == 0


def test_older_generation_is_a_replay() -> None:
    """(A capture of an older generation echoes nothing of this run: docs/core.md.)"""
    node, peer, _ = joined()
    acts = node.feed(peer.frame(2.0, generation=2, groups=bytes([2, 2]), echo=0), 2.0)
    assert acts == []
    assert node.snapshot().peers[0].links[0].counters.replayed == 1
    assert node.snapshot().groups[0].holder is None


def test_same_sequence_on_another_link_is_a_duplicate_that_refreshes_that_link() -> None:
    node, peer, _ = joined()
    f = peer.frame(2.0, groups=bytes([2, 0]))
    node.feed(f, 2.0)
    acts = node.feed(replace(f, link=TTY), 2.1)
    assert logs(acts) == ["Link prime:/dev/ttyS0 up."]
    snap = node.snapshot().peers[0].links
    assert snap[1].up is True
    assert (snap[1].counters.frames_ok, snap[1].counters.duplicates) == (1, 1)


def test_reordered_older_frame_is_counted_stale_and_changes_nothing() -> None:
    """An older frame no link carried cannot be checked against the incarnation's own
    frames (sequences.py): it is counted, neither applied nor refreshing its link."""
    node, peer, _ = joined()
    node.feed(peer.frame(2.0, groups=bytes([2, 0]), sequence=5), 2.0)
    older = peer.frame(1.9, link=TTY, groups=bytes([0, 0]), sequence=4)  # sent before 5
    acts = node.feed(older, 2.1)
    assert logs(acts) == []
    snap = node.snapshot()
    assert snap.groups[0].holder == "prime"
    tty = snap.peers[0].links[1]
    assert (tty.up, tty.counters.stale, tty.counters.frames_ok) == (None, 1, 0)


def test_higher_generation_means_restart_and_holds_nothing() -> None:
    node, peer, _ = joined(peer_groups=bytes([2, 0]))
    assert node.snapshot().groups[0].holder == "prime"
    # The restarted prime has heard calc's heartbeat of 3.0 (its echo is news to calc).
    peer.generation, peer.sequence = 4, 0
    peer.heard = last_hb(node.feed(Tick(), 3.0)).timestamp_ms
    acts = node.feed(peer.frame(3.1, state=1, groups=bytes([0, 0])), 3.1)
    assert "Heartbeat restart on node prime" in logs(acts)
    assert "Status update for node prime: status up" in logs(acts)
    snap = node.snapshot()
    assert (snap.peers[0].generation, snap.groups[0].holder) == (4, None)
    assert snap.peers[0].links[0].counters.replayed == 0  # sequence 1 again is fine


def test_rtt_from_echoes_and_echoes_sent_back() -> None:
    node, peer, _ = joined()
    acts = node.feed(Tick(), 3.0)  # heartbeat at ts 3000
    hb = last_hb(acts)
    assert hb.echoes[0] == LinkEcho(ETH, 1000, 2000)  # prime's ts, 2 s ago
    assert hb.echoes[1] == LinkEcho(TTY, 0, 0)  # nothing heard on ttyS0
    f = peer.frame(3.5, echo=3000)
    node.feed(replace(f, echo_delay_ms=100), 3.5)
    assert node.snapshot().peers[0].links[0].rtt == 0.4
    # An echo of a timestamp never sent (a previous incarnation's) is ignored.
    node.feed(peer.frame(3.6, echo=99999), 3.6)
    assert node.snapshot().peers[0].links[0].rtt == 0.4


def test_unknown_sender_is_counted_not_applied() -> None:
    node, _peer, _ = joined()
    stranger = Peer(name="mallory")
    assert node.feed(stranger.frame(2.0, groups=bytes([2, 2])), 2.0) == []
    assert node.snapshot().links[0].rejected == {"unknown-peer": 1}


def test_peer_status_change_is_logged_like_heartbeat() -> None:
    node = Node(PARAMS, 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    acts = node.feed(Peer(heard=1).frame(1.0, state=ACTIVE), 1.0)
    assert logs(acts) == [
        "Link prime:eth0 up.",
        "Status update for node prime: status active",
        "Comms up: local status now active",
    ]


def test_return_after_partition_is_logged() -> None:
    node, peer, echo = joined(peer_groups=bytes([HELD, NONE]))
    node.feed(peer.frame(1.0, link=TTY, groups=bytes([HELD, NONE]), sequence=1), 1.0)
    node.feed(peer.frame(2.0, groups=bytes([HELD, NONE]), echo=echo), 2.0)
    acts = tick_until(node, 12.05)
    assert node.snapshot().peers[0].alive is False
    peer.heard = last_hb(acts).timestamp_ms  # the links are back: prime hears calc
    acts = node.feed(peer.frame(13.0, groups=bytes([HELD, NONE])), 13.0)
    assert "Cluster node prime returning after partition." in logs(acts)


def test_own_frames_are_ignored_and_not_counted() -> None:
    """Our own broadcast looping back is normal: not applied, not counted anywhere."""
    node, _peer, _ = joined()
    before = node.snapshot()
    me = Peer(name="calc", generation=7)
    assert node.feed(me.frame(2.0, groups=bytes([HELD, HELD])), 2.0) == []
    after = node.snapshot()
    assert [lk.rejected for lk in after.links] == [{}, {}]
    assert [(lk.up, lk.counters) for lk in after.peers[0].links] == [
        (lk.up, lk.counters) for lk in before.peers[0].links]
    assert [g.holder for g in after.groups] == [None, None]


def test_unknown_senders_are_counted_unattributed_on_their_link() -> None:
    """(Frames the wire refuses never reach the core: tests/unit/test_engine.py.)"""
    node, _peer, _ = joined()
    node.feed(Peer(name="mallory").frame(1.7), 1.7)
    node.feed(Peer(name="mallory").frame(1.8, link=TTY), 1.8)
    snap = node.snapshot()
    assert snap.peers[0].links[0].counters.rejected == {}
    assert snap.links[0].rejected == {"unknown-peer": 1}
    assert snap.links[1].rejected == {"unknown-peer": 1}
    assert snap.peers[0].links[1].counters.frames_ok == 0


def test_without_a_peer_the_node_joins_at_once_and_holds_every_group() -> None:
    """A single-node ha.cf (heartbeat accepts it): no peer, no link deadlines, no acks."""
    p = params(peer=None, groups=(GroupSpec(B, "calc"),))
    node = Node(p, 0.0)
    node.feed(Started(), 0.0)
    acts = node.feed(LeftoversFound(()), 0.0)
    assert "Comms up: local status now active" in logs(acts)
    assert orders(acts) == [StartGroup(B)]
    assert last_hb(acts).echoes == (LinkEcho(ETH, 0, 0), LinkEcho(TTY, 0, 0))
    acts = node.feed(GroupStarted(B), 0.5)
    assert logs(acts) == [f"Resource group {B} acquired", "Initial resource acquisition complete"]
    assert acts[-1] == StatusChanged("active; holding 1/1 groups")
    assert node.next_deadline() == 2.5  # keepalive after the heartbeat at 0.5: no link timers
    acts = node.feed(Peer().frame(1.0, groups=bytes([HELD])), 1.0)
    assert acts == []
    snap = node.snapshot()
    assert (snap.peers, snap.links[0].rejected) == ((), {"unknown-peer": 1})
    assert snap.groups[0].holder == "calc"


def test_every_heartbeat_carries_one_echo_per_link() -> None:
    node, peer, echo = joined()
    node.feed(peer.frame(1.5, link=TTY, echo=echo), 1.5)
    hb = last_hb(node.feed(Tick(), 3.0))
    assert hb.echoes == (LinkEcho(ETH, 1000, 2000), LinkEcho(TTY, 1500, 1500))
