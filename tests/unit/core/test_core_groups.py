"""Core groups (groups.py, reports.py, the request rules of handoff.py): claims and the ack
rule, auto_failback, standby/takeover, failures, ping guard, mismatch, split brain, shutdown
and leftovers. The local node is calc; prime is the peer; A's primary is prime, B's is calc."""

from __future__ import annotations

from core_helpers import (
    ACTIVE,
    CRITICAL,
    FAILED,
    GONE,
    HELD,
    JOINING,
    LEAVING,
    NONE,
    STARTING,
    STOPPING,
    WANT,
    YIELD,
    A,
    B,
    Peer,
    group_state,
    holding,
    joined,
    last_hb,
    logs,
    orders,
    params,
    tick_until,
    ts_of,
)

from twinbeat.core import (
    GroupStarted,
    GroupStartFailed,
    GroupStopFailed,
    GroupStopped,
    LeftoversFound,
    Node,
    PingReachability,
    StandbyRequested,
    Started,
    StartGroup,
    StopGroup,
    TakeoverRequested,
    Tick,
)
from twinbeat.core.claim import claim_acked
from twinbeat.core.membership import LivePeer
from twinbeat.core.ownership import GroupView
from twinbeat.core.states import WireGroupState, WireNodeState


def test_claim_is_advertised_and_started_only_once_the_peer_echoes_it() -> None:
    node, peer, claim_ts = joined()
    assert group_state(node, B) == "claiming"
    acts = node.feed(peer.frame(1.5, echo=1), 1.5)  # prime has not seen the claim yet
    assert orders(acts) == []
    acts = node.feed(peer.frame(2.0, echo=claim_ts), 2.0)
    assert orders(acts) == [StartGroup(B)]
    assert logs(acts) == ["acquiring resource group: " + B]
    assert group_state(node, B) == "starting"  # on the wire still STARTING: no new frame
    acts = node.feed(GroupStarted(B), 2.5)
    assert logs(acts) == [f"Resource group {B} acquired", "Initial resource acquisition complete"]
    assert last_hb(acts).groups == bytes([NONE, HELD])
    snap = node.snapshot().groups
    assert (snap[1].holder, snap[1].local_state, snap[1].last_change) == ("calc", "held", 2.5)
    assert snap[0].holder is None


def test_a_claim_is_withdrawn_when_the_peer_already_holds() -> None:
    node, peer, claim_ts = joined()
    acts = node.feed(peer.frame(2.0, groups=bytes([NONE, HELD]), echo=claim_ts), 2.0)
    assert orders(acts) == []
    assert group_state(node, B) == "none"
    assert last_hb(acts).groups == bytes([NONE, NONE])


def test_no_claim_while_the_peer_is_starting_the_group() -> None:
    node, _peer, _ = joined(params(auto_failback=False), peer_groups=bytes([STARTING, STARTING]))
    assert group_state(node, B) == "none"
    assert node.snapshot().groups[1].holder == "prime"


def test_auto_failback_on_secondary_stops_then_primary_may_start() -> None:
    peer = Peer()
    node, _t = holding(peer=peer)
    acts = node.feed(peer.frame(21.0), 21.0)  # prime joins the cluster, holding nothing
    assert orders(acts) == [StopGroup(A)]
    assert "releasing resource group: " + A in logs(acts)
    assert last_hb(acts).groups == bytes([STOPPING, HELD])
    acts = node.feed(GroupStopped(A), 22.0)
    assert logs(acts) == [f"Resource group {A} released"]
    assert last_hb(acts).groups == bytes([NONE, HELD])
    # prime claims and starts A; calc never claims it back
    acts = node.feed(peer.frame(22.5, groups=bytes([STARTING, NONE])), 22.5)
    assert orders(acts) == []
    node.feed(peer.frame(23.0, groups=bytes([HELD, NONE])), 23.0)
    assert node.snapshot().groups[0].holder == "prime"


def test_auto_failback_off_holder_keeps_after_the_primary_returns() -> None:
    peer = Peer()
    node, _t = holding(params(auto_failback=False), peer=peer)
    for t in (21.0, 23.0, 25.0):
        acts = node.feed(peer.frame(t), t)
        assert orders(acts) == []
    assert [g.holder for g in node.snapshot().groups] == ["calc", "calc"]


def test_standby_while_the_peer_is_dead_is_refused() -> None:
    node, t = holding()
    acts = node.feed(StandbyRequested("all"), t + 1)
    assert logs(acts) == ["Standby request [all] refused: no other active node to take the "
                          "resource groups"]
    assert orders(acts) == []
    assert [(g.local_state, g.standby) for g in node.snapshot().groups] == [
        ("held", False), ("held", False)]


def test_standby_local_hands_the_local_group_over() -> None:
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    node.feed(peer.frame(t + 1), t + 1)
    acts = node.feed(StandbyRequested("local"), t + 2)
    assert logs(acts)[0] == "Going standby [local]."
    assert orders(acts) == [StopGroup(B)]
    assert last_hb(acts).groups == bytes([HELD, STOPPING | YIELD])
    acts = node.feed(GroupStopped(B), t + 3)
    assert last_hb(acts).groups == bytes([HELD, NONE | YIELD])
    assert node.snapshot().groups[1].standby is True


def test_takeover_asks_the_holder_and_starts_after_its_stop() -> None:
    node, peer, echo = joined(params(auto_failback=False), peer_groups=bytes([HELD, HELD]))
    acts = node.feed(TakeoverRequested("foreign"), 2.0)
    assert logs(acts) == ["Takeover requested [foreign]."]
    assert last_hb(acts).groups == bytes([NONE | WANT, NONE])
    echo = ts_of(acts, echo)
    # prime stands by for A (YIELD) and stops it
    acts = node.feed(peer.frame(2.1, groups=bytes([STOPPING | YIELD, HELD]), echo=echo), 2.1)
    assert orders(acts) == []
    acts = node.feed(peer.frame(3.0, groups=bytes([NONE | YIELD, HELD]), echo=echo), 3.0)
    assert last_hb(acts).groups == bytes([STARTING | WANT, NONE])  # claim
    echo = ts_of(acts, echo)
    acts = node.feed(peer.frame(3.1, groups=bytes([NONE | YIELD, HELD]), echo=echo), 3.1)
    assert orders(acts) == [StartGroup(A)]
    acts = node.feed(GroupStarted(A), 4.0)
    assert last_hb(acts).groups == bytes([HELD, NONE])  # WANT done


def test_a_peer_takeover_request_makes_this_node_stand_by() -> None:
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    node.feed(peer.frame(t + 1), t + 1)
    acts = node.feed(peer.frame(t + 2, groups=bytes([NONE, NONE | WANT])), t + 2)
    assert orders(acts) == [StopGroup(B)]
    assert f"Node prime requested takeover of {B}: standing by for it" in logs(acts)
    assert last_hb(acts).groups == bytes([HELD, STOPPING | YIELD])


def test_peer_restart_mid_handoff() -> None:
    peer = Peer()
    node, _t = holding(peer=peer)
    acts = node.feed(peer.frame(21.0), 21.0)
    assert orders(acts) == [StopGroup(A)]  # handing A back to prime
    # prime restarts before the stop completes: new generation, joining, holds nothing; it
    # has heard calc's latest heartbeat
    peer.generation, peer.sequence, peer.heard = 4, 0, ts_of(acts, peer.heard)
    acts = node.feed(peer.frame(21.5, state=JOINING), 21.5)
    assert "Heartbeat restart on node prime" in logs(acts)
    assert orders(acts) == []
    acts = node.feed(GroupStopped(A), 22.0)
    # prime is joining (its start-up is under way) and is A's primary: calc waits for it rather
    # than start A only to stop it again for the failback.
    assert orders(acts) == []
    assert group_state(node, A) == "none"
    acts = node.feed(peer.frame(22.5, state=JOINING), 22.5)
    assert orders(acts) == []
    assert group_state(node, A) == "none"
    acts = node.feed(peer.frame(24.0, state=ACTIVE, groups=bytes([STARTING, NONE])), 24.0)
    assert orders(acts) == []
    acts = node.feed(peer.frame(25.0, state=ACTIVE, groups=bytes([HELD, NONE])), 25.0)
    assert orders(acts) == []
    assert node.snapshot().groups[0].holder == "prime"


def test_a_joining_primary_is_waited_for_at_start_up_with_auto_failback_off() -> None:
    """Both daemons start together: the secondary must not grab the primary's group just
    because it became active a moment earlier (with failback off it would keep it for good)."""
    node = Node(params(auto_failback=False), 0.0)
    node.feed(Started(), 0.0)
    acts = node.feed(LeftoversFound(()), 0.0)
    peer = Peer()
    acts = node.feed(
        peer.frame(1.0, state=JOINING, groups=bytes([NONE, NONE]), echo=last_hb(acts).timestamp_ms),
        1.0,
    )
    assert node.snapshot().state == "active"
    assert group_state(node, A) == "none"  # prime's group: wait for prime
    assert group_state(node, B) == "claiming"  # calc's own group: go ahead


def test_failed_start_marks_failed_lets_the_peer_try_and_backs_off() -> None:
    node, peer, claim_ts = joined()
    node.feed(peer.frame(2.0, echo=claim_ts), 2.0)
    acts = node.feed(GroupStartFailed(B, "apache2 start exited 1"), 3.0)
    assert logs(acts) == [f"Resource group {B} failed to start (apache2 start exited 1): "
                          "giving it up to the peer; not retrying here for 20s",
                          "Initial resource acquisition complete"]
    assert last_hb(acts).groups == bytes([NONE, FAILED])
    assert node.snapshot().groups[1].local_state == "failed"
    assert node.next_deadline() == 3.0 + 2.0  # keepalive first; retry at 23.0
    acts = node.feed(peer.frame(4.0, groups=bytes([NONE, STARTING])), 4.0)
    assert orders(acts) == []
    node.feed(peer.frame(5.0, groups=bytes([NONE, HELD])), 5.0)
    t = 5.0
    while t < 21.0:
        t += 2.0
        node.feed(peer.frame(t, groups=bytes([NONE, HELD])), t)
    acts = node.feed(Tick(), 23.0)
    assert logs(acts) == [f"Resource group {B}: start may be retried"]
    # calc may try again, but only once prime (holding B now) has stopped it: auto_failback
    assert orders(acts) == []
    assert group_state(node, B) == "none"


def test_a_start_whose_rollback_failed_is_critical_and_never_handed_over() -> None:
    node, peer, claim_ts = joined()
    node.feed(peer.frame(2.0, echo=claim_ts), 2.0)  # -> StartGroup(B)
    reason = "start of apache2 failed: exited 1; rollback failed: IPaddr: stop exited 1"
    acts = node.feed(GroupStartFailed(B, reason, rolled_back=False), 3.0)
    assert ("critical", f"Resource group {B} failed to start and could not be rolled back "
                        f"({reason}): it stays claimed by this node; manual intervention "
                        "required!") in [(a.level, a.message) for a in acts if hasattr(a, "level")]
    assert last_hb(acts).groups == bytes([NONE, CRITICAL])
    assert group_state(node, B) == "critical"
    # Unlike a clean failed start, there is no retry and the peer is not invited to start B.
    echo = claim_ts
    for t in range(4, 92, 2):  # prime stays alive, echoing calc's heartbeats
        acts = node.feed(Tick(), t - 0.5)
        echo = ts_of(acts, echo)
        acts += node.feed(peer.frame(t, groups=bytes([NONE, NONE]), echo=echo), t)
        echo = ts_of(acts, echo)  # a keepalive may go out with prime's frame (heartbeat.py)
        assert orders(acts) == []
        assert node.snapshot().groups[1].local_state == "critical"
    assert last_hb(node.feed(Tick(), 95.0)).groups == bytes([NONE, CRITICAL])


def test_failed_stop_is_critical_and_stays_claimed() -> None:
    peer = Peer()
    node, t = holding(peer=peer)
    node.feed(peer.frame(t + 1), t + 1)  # -> StopGroup(A)
    acts = node.feed(GroupStopFailed(A, "IPaddr stop exited 1"), t + 2)
    assert [(a.level, a.message) for a in acts if hasattr(a, "level")] == [
        ("critical", f"Resource group {A} failed to stop (IPaddr stop exited 1): it stays "
                     "claimed by this node; manual intervention required!")]
    assert last_hb(acts).groups == bytes([CRITICAL, HELD])
    assert "CRITICAL: " + A in acts[-1].text  # StatusChanged
    snap = node.snapshot().groups[0]
    assert (snap.local_state, snap.holder) == ("critical", "calc")


def test_a_peer_critical_group_is_never_started_here() -> None:
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    node.feed(peer.frame(t + 1, groups=bytes([CRITICAL, NONE])), t + 1)
    assert group_state(node, A) == "held"  # calc keeps; nobody moves a critical group
    node2, peer2, echo = joined(peer_groups=bytes([NONE, CRITICAL]))
    acts = node2.feed(peer2.frame(2.0, groups=bytes([NONE, CRITICAL]), echo=echo), 2.0)
    assert orders(acts) == []
    assert group_state(node2, B) == "none"


def test_isolated_node_does_not_acquire() -> None:
    p = params(ping_configured=True)
    node = Node(p, 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    acts = node.feed(PingReachability(False), 1.0)
    assert logs(acts) == ["No ping node reachable: this node may be isolated; not acquiring "
                          "resource groups"]
    assert last_hb(acts).node_flags == 0x01  # ping configured, not OK
    acts = tick_until(node, 20.05)
    assert "node prime: is dead" in logs(acts)
    assert orders(acts) == []
    acts = node.feed(PingReachability(True), 21.0)
    assert orders(acts) == [StartGroup(A), StartGroup(B)]
    assert last_hb(acts).node_flags == 0x03


def test_isolated_holder_gives_up_to_a_peer_that_reaches_the_ping_nodes() -> None:
    peer = Peer()
    node, t = holding(params(ping_configured=True, auto_failback=False), peer=peer)
    node.feed(peer.frame(t + 1, flags=0x03), t + 1)
    assert orders(node.feed(PingReachability(False), t + 2)) == [StopGroup(A), StopGroup(B)]


def test_config_mismatch_is_reported_once_and_blocks_handoffs() -> None:
    node = Node(params(), 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    peer = Peer(heard=1)  # it echoes calc's first heartbeat (timestamp 1)
    acts = node.feed(peer.frame(1.0, fingerprint=0xBAD, groups=bytes([NONE])), 1.0)
    msg = [m for m in logs(acts) if m.startswith("Configuration mismatch")]
    assert msg == ["Configuration mismatch with node prime: fingerprint 00000bad vs 5eed1234, "
                   "1 vs 2 groups; no resource handoff with it until haresources and node "
                   "lists agree"]
    acts = node.feed(peer.frame(2.0, fingerprint=0xBAD, groups=bytes([NONE]), echo=1000), 2.0)
    assert not any(m.startswith("Configuration mismatch") for m in logs(acts))
    assert orders(acts) == []
    snap = node.snapshot()
    assert (snap.peers[0].alive, snap.peers[0].config_match) == (True, False)
    assert [g.local_state for g in snap.groups] == ["none", "none"]


# Split brain and the holder's announces: test_core_announce.py.


def test_peer_leaving_without_groups_is_taken_over_at_once() -> None:
    node, peer, _echo = joined(params(auto_failback=False), peer_groups=bytes([HELD, HELD]))
    acts = node.feed(peer.frame(2.0, state=LEAVING, groups=bytes([STOPPING, HELD])), 2.0)
    assert "Received shutdown notice from 'prime'." in logs(acts)
    assert orders(acts) == []
    acts = node.feed(peer.frame(3.0, state=LEAVING, groups=bytes([NONE, STOPPING])), 3.0)
    assert orders(acts) == [StartGroup(A)]
    acts = node.feed(peer.frame(4.0, state=GONE, groups=bytes([NONE, NONE])), 4.0)
    assert orders(acts) == [StartGroup(B)]


def test_only_active_nodes_count_as_candidates() -> None:
    node, peer, echo = joined(peer_groups=bytes([NONE, NONE]))
    # prime is active and A's primary (auto_failback on): calc leaves A alone ...
    assert group_state(node, A) == "none"
    # ... and a prime that is only joining (restarted) is waited for: it is about to become
    # active and take A, so starting A here would only mean stopping it again.
    peer.generation, peer.sequence = 4, 0
    node.feed(peer.frame(2.0, state=JOINING, echo=echo), 2.0)
    assert group_state(node, A) == "none"
    # A joining peer that is not A's primary does not hold anything up: calc keeps B.
    assert group_state(node, B) in ("claiming", "starting", "held")


def live(*, state: WireNodeState = WireNodeState.ACTIVE,
         group: WireGroupState = WireGroupState.NONE, echo_max: int | None = 5000) -> LivePeer:
    return LivePeer(name="prime", config_match=True, node_state=state, node_flags=0,
                    groups=(GroupView(), GroupView(group)), echo_max=echo_max)


def test_the_ack_rule() -> None:
    """`claim_acked` (used by groups.py): the seam the simulator's mutation check replaces."""
    assert claim_acked(None, 1, 4000)  # the peer is dead (link quorum): nobody to ask
    assert claim_acked(live(), 1, 4000)  # echoed past our pre-claim heartbeat, idle
    assert claim_acked(live(), 1, None)  # claimed before our first heartbeat
    assert not claim_acked(live(echo_max=4000), 1, 4000)  # has not seen the claim yet
    assert not claim_acked(live(echo_max=None), 1, 4000)
    for busy in (WireGroupState.STARTING, WireGroupState.HELD, WireGroupState.STOPPING,
                 WireGroupState.CRITICAL):
        assert not claim_acked(live(group=busy), 1, 4000)
    no_groups = LivePeer("prime", False, WireNodeState.ACTIVE, 0, (), 5000)
    assert not claim_acked(no_groups, 1, 4000)  # its group bytes are unknown (mismatch)
    assert claim_acked(live(state=WireNodeState.LEAVING, echo_max=None), 1, 4000)
