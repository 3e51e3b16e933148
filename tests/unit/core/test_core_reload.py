"""A reload, step by step (`Reconfigured`: core/reconfigure.py, core/regroup.py; issue #16).

The local node is calc; prime is the peer; A's primary is prime, B's is calc."""

from __future__ import annotations

from dataclasses import replace

import pytest
from core_helpers import (
    ETH,
    FP,
    HELD,
    NONE,
    PARAMS,
    STOPPING,
    TTY,
    A,
    B,
    group_state,
    holding,
    joined,
    last_hb,
    logs,
    monitor_orders,
    orders,
    params,
)

from twinbeat.core import (
    NODE_FLAG_TRANSLATED,
    CoreMisuse,
    FenceFailed,
    GroupSpec,
    GroupStarted,
    GroupStopFailed,
    GroupStopped,
    LeftoversFound,
    Node,
    PeerFenced,
    PingReachability,
    Reconfigured,
    ResourceFailed,
    SendHeartbeat,
    ShutdownRequested,
    Started,
    StartGroup,
    StartMonitoring,
    StopGroup,
    StopMonitoring,
    Tick,
)

C = "IPaddr::198.18.1.150/24/eth0"  # a group the reloads add (primary calc)


def without(*keys: str, **kw: object):
    groups = tuple(g for g in PARAMS.groups if g.key not in keys)
    return params(groups=groups, fingerprint=FP + 1, **kw)


def keys(node) -> list[tuple[str, str, bool]]:
    return [(g.key, g.local_state, g.removed) for g in node.snapshot().groups]


def test_the_same_params_change_nothing() -> None:
    node, t = holding()
    before = node.snapshot()
    assert node.feed(Reconfigured(PARAMS), t + 0.1) == []
    assert replace(node.snapshot(), now=before.now) == before


def test_a_new_keepalive_sends_at_once_then_at_the_new_pace() -> None:
    node, t = holding()
    acts = node.feed(Reconfigured(params(keepalive=0.5, deadtime=4.0)), t + 0.1)
    assert [type(a) for a in acts if isinstance(a, SendHeartbeat)] == [SendHeartbeat]
    assert orders(acts) == []
    assert logs(acts) == ["Configuration reloaded"]
    assert node.next_deadline() == pytest.approx(t + 0.6)


def test_a_removed_held_group_is_stopped_once_and_the_others_run_on() -> None:
    node, t = holding()
    acts = node.feed(Reconfigured(without(B)), t + 1)
    assert monitor_orders(acts) == [StopMonitoring(B), StopGroup(B)]
    assert last_hb(acts).groups == bytes([HELD])  # B is off the wire; A as it was
    assert keys(node) == [(A, "held", False), (B, "stopping", True)]
    acts = node.feed(Tick(), t + 2) + node.feed(Tick(), t + 20)
    assert monitor_orders(acts) == []  # never a second stop
    acts = node.feed(GroupStopped(B), t + 21)
    assert f"Resource group {B} removed from the configuration" in logs(acts)
    assert orders(acts) == []
    assert keys(node) == [(A, "held", False)]


def test_a_late_check_of_a_removed_group_is_ignored() -> None:
    node, t = holding()
    node.feed(Reconfigured(without(B)), t + 1)
    node.feed(GroupStopped(B), t + 2)
    acts = node.feed(ResourceFailed(B, 1, "apache2: not running"), t + 3)
    assert orders(acts) == []
    with pytest.raises(CoreMisuse):
        node.feed(ResourceFailed("never-configured", 0, "x"), t + 4)


def test_a_removed_group_being_started_is_stopped_once_started() -> None:
    node, peer, claim_ts = joined()
    node.feed(peer.frame(2.0, echo=claim_ts), 2.0)  # B acked: StartGroup(B)
    assert group_state(node, B) == "starting"
    acts = node.feed(Reconfigured(without(B)), 2.5)
    assert orders(acts) == []
    acts = node.feed(GroupStarted(B), 3.0)
    assert monitor_orders(acts) == [StartMonitoring(B), StopMonitoring(B), StopGroup(B)]


def test_an_idle_removed_group_is_dropped_at_once() -> None:
    node, _peer, _ = joined(params(auto_failback=False), peer_groups=bytes([HELD, HELD]))
    acts = node.feed(Reconfigured(without(A)), 2.0)
    assert orders(acts) == []
    assert keys(node) == [(B, "none", False)]


def test_an_added_group_waits_for_the_removed_one_to_stop() -> None:
    node, t = holding()
    new = params(groups=(PARAMS.groups[0], GroupSpec(C, "calc")), fingerprint=FP + 2)
    acts = node.feed(Reconfigured(new), t + 1)
    assert monitor_orders(acts) == [StopMonitoring(B), StopGroup(B)]
    assert last_hb(acts).groups == bytes([HELD, STOPPING])  # C held back: STOPPING
    acts = node.feed(Tick(), t + 5)
    assert orders(acts) == []
    acts = node.feed(GroupStopped(B), t + 6)
    assert f"Resource group {C} may start now" in logs(acts)
    assert orders(acts) == [StartGroup(C)]  # the peer is dead: nothing to wait for


def test_a_redefined_held_group_is_stopped_then_started_anew() -> None:
    node, t = holding()
    spec = GroupSpec(B, "calc", (B, "exim4"))
    acts = node.feed(Reconfigured(params(groups=(PARAMS.groups[0], spec),
                                         fingerprint=FP + 3)), t + 1)
    assert monitor_orders(acts) == [StopMonitoring(B), StopGroup(B)]
    acts = node.feed(GroupStopped(B), t + 2)
    assert f"Resource group {B} is now: {B} exim4" in logs(acts)
    assert orders(acts) == [StartGroup(B)]
    assert node.snapshot().groups[1].resources[1].text == "exim4"


def test_a_new_preferred_node_moves_nothing_by_itself() -> None:
    node, t = holding()
    acts = node.feed(Reconfigured(params(groups=(GroupSpec(A, "calc"), GroupSpec(B, "calc")),
                                         fingerprint=FP + 4)), t + 1)
    assert monitor_orders(acts) == []
    assert node.snapshot().groups[0].primary == "calc"


def test_a_new_group_list_waits_for_the_peers_next_frame() -> None:
    """The peer's group bytes were in the old layout: nothing is acquired on their account
    until a frame says what it runs under the new configuration."""
    node, peer, _ = joined(params(auto_failback=False), peer_groups=bytes([HELD, NONE]))
    node.feed(GroupStopped(B), 1.2) if group_state(node, B) == "stopping" else None
    new = params(auto_failback=False, groups=(GroupSpec(C, "calc"), *PARAMS.groups),
                 fingerprint=FP + 5)
    acts = node.feed(Reconfigured(new), 2.0)
    assert not [a for a in orders(acts) if isinstance(a, StartGroup)]
    assert node.snapshot().peers[0].config_match is False
    acts = node.feed(peer.frame(2.5, groups=bytes([NONE, HELD, NONE]), fingerprint=FP + 5), 2.5)
    assert node.snapshot().peers[0].config_match is True
    assert not any("mismatch" in m for m in logs(acts))


def test_a_peer_still_on_the_old_files_is_read_by_name_and_answered_in_its_layout() -> None:
    """Between the two reloads (core/layouts.py): the peer's frames are read in our previous
    group order, ours go out in it with its fingerprint, flagged TRANSLATED."""
    node, peer, claim_ts = joined()
    node.feed(peer.frame(2.0, echo=claim_ts), 2.0)
    node.feed(GroupStarted(B), 2.1)
    swapped = params(groups=(PARAMS.groups[1], PARAMS.groups[0], GroupSpec(C, "calc")),
                     fingerprint=FP + 6)
    acts = node.feed(Reconfigured(swapped), 3.0)
    hb = last_hb(acts)
    assert (hb.fingerprint, hb.groups, hb.node_flags & NODE_FLAG_TRANSLATED) == (
        FP, bytes([NONE, HELD]), NODE_FLAG_TRANSLATED)  # A, B in the peer's order; no C
    acts = node.feed(peer.frame(3.5, groups=bytes([HELD, NONE])), 3.5)  # prime holds A
    assert any(m.startswith("node prime runs this node's previous configuration")
               for m in logs(acts))
    assert not any("mismatch" in m for m in logs(acts))
    assert orders(acts) == []
    assert group_state(node, C) == "none"  # not claimed before the peer has it too
    assert node.snapshot().groups[1].holder == "prime"  # A, read by its name
    assert group_state(node, B) == "held"

    acts = node.feed(peer.frame(4.0, fingerprint=FP + 6, groups=bytes([NONE, HELD, NONE])), 4.0)
    assert last_hb(acts).fingerprint is None  # the peer reloaded: our own layout again
    assert not last_hb(acts).node_flags & NODE_FLAG_TRANSLATED


def test_a_peer_on_unknown_files_is_a_mismatch_nothing_moves() -> None:
    node, peer, claim_ts = joined()
    node.feed(peer.frame(2.0, echo=claim_ts), 2.0)
    node.feed(GroupStarted(B), 2.1)
    acts = node.feed(Reconfigured(params(fingerprint=FP + 6)), 3.0)
    acts += node.feed(peer.frame(3.5, groups=bytes([NONE, NONE]), fingerprint=FP + 9), 3.5)
    assert any(m.startswith("Configuration mismatch with node prime") for m in logs(acts))
    assert orders(acts) == []
    assert group_state(node, B) == "held"


@pytest.mark.parametrize("reload_at, dead_at", [(2.0, 21.0), (25.0, 36.0)])
def test_a_link_added_by_a_reload_has_deadtime_to_be_heard(reload_at: float,
                                                           dead_at: float) -> None:
    """A link never heard is dead once deadtime after the reload, and initdead after the
    first heartbeat, have passed (+ grace); the peer stays alive on the others."""
    node, peer, _ = joined()
    t, found = 1.0, []
    while t < dead_at + 3:
        t += 1.0
        if t == reload_at:
            node.feed(Reconfigured(params(links=(ETH, TTY, "eth2"))), t)
            assert "eth2" in [link.name for link in node.snapshot().peers[0].links]
        acts = node.feed(peer.frame(t), t)
        peer.heard = next((a.timestamp_ms for a in reversed(acts)
                           if isinstance(a, SendHeartbeat)), peer.heard)
        found += [(t, m) for m in logs(acts) if "eth2" in m]
    assert found == [(dead_at, "Link prime:eth2 dead.")]
    assert node.snapshot().peers[0].alive


def test_refused_reloads_change_nothing() -> None:
    node, _peer, _ = joined()
    assert node.reconfigure_refusal(params(node="other")) == \
        "node cannot change without a restart"
    assert node.reconfigure_refusal(params(generation=8)) == \
        "generation cannot change without a restart"
    assert node.reconfigure_refusal(params(links=("eth9",))).startswith(
        "node prime is heard only on eth0")
    before = node.snapshot()
    with pytest.raises(CoreMisuse, match="Reconfigured refused"):
        node.feed(Reconfigured(params(links=("eth9",))), 2.0)
    assert node.snapshot() == before
    node.feed(ShutdownRequested(), 2.0)
    assert node.reconfigure_refusal(params(keepalive=1.0)) == \
        "shutting down: the groups are being given up"


def test_no_reload_before_the_leftovers_are_known() -> None:
    """LeftoversFound names the groups of the configuration the probe ran with."""
    node = Node(PARAMS, 0.0)
    assert node.reconfigure_refusal(without(B)).startswith("starting up")
    node.feed(Started(), 0.0)
    assert node.reconfigure_refusal(without(B)).startswith("starting up")
    node.feed(LeftoversFound((B,)), 0.1)
    assert node.reconfigure_refusal(without(B)) is None  # cleaning: B is being stopped
    acts = node.feed(Reconfigured(without(B)), 0.2)
    assert orders(acts) == []  # its stop is under way already
    acts = node.feed(GroupStopped(B), 0.3)
    assert f"Resource group {B} removed from the configuration" in logs(acts)


def test_dropping_ping_nodes_ignores_a_late_report() -> None:
    node, t = holding(params(ping_configured=True))
    node.feed(PingReachability(False), t + 0.1)
    node.feed(Reconfigured(params(ping_configured=False)), t + 0.2)
    assert node.snapshot().ping_ok is None
    acts = node.feed(PingReachability(False), t + 0.3)
    assert orders(acts) == []


def test_dropping_fencing_stops_waiting_for_a_fence_and_ignores_late_results() -> None:
    node, _peer, _ = joined(params(fencing=True, fence_delay=5.0))
    t = 1.0
    while node.snapshot().peers[0].alive:  # the peer falls silent: it must be fenced
        t += 1.0
        node.feed(Tick(), t)
    assert node.snapshot().fencing is not None and node.snapshot().fencing.state == "waiting"
    acts = node.feed(Reconfigured(params(fencing=False)), t + 0.5)
    assert any(m.startswith("Fencing removed by the reload") for m in logs(acts))
    assert node.snapshot().fencing is None
    acts += node.feed(Tick(), t + 1)
    assert any(isinstance(a, StartGroup) for a in acts)  # A: taken over without a fence
    assert orders(node.feed(PeerFenced("prime"), t + 2)) == []
    assert orders(node.feed(FenceFailed("prime", "late"), t + 3)) == []


def test_dropping_fencing_during_an_attempt_is_refused() -> None:
    node, _peer, _ = joined(params(fencing=True))
    t = 1.0
    while node.snapshot().fencing is None or node.snapshot().fencing.state != "fencing":
        t += 1.0
        node.feed(Tick(), t)
    assert node.reconfigure_refusal(params(fencing=False)) == \
        "a STONITH of prime is under way: reload once it is done"


def test_the_groups_wire_bytes_follow_the_new_order() -> None:
    node, t = holding()
    swapped = params(groups=(PARAMS.groups[1], PARAMS.groups[0]), fingerprint=FP + 7)
    acts = node.feed(Reconfigured(swapped), t + 1)
    assert monitor_orders(acts) == []
    assert last_hb(acts).groups == bytes([HELD, HELD])
    assert [g.key for g in node.snapshot().groups] == [B, A]
    assert NONE == 0


def test_a_removed_group_whose_stop_failed_holds_nothing_back() -> None:
    """A failed stop waits for an admin (CRITICAL); the groups a reload adds do not wait."""
    node, t = holding()
    new = params(groups=(PARAMS.groups[0], GroupSpec(C, "calc")), fingerprint=FP + 8)
    node.feed(Reconfigured(new), t + 1)
    acts = node.feed(GroupStopFailed(B, "apache2 would not stop"), t + 2)
    assert f"Resource group {C} may start now" in logs(acts)
    assert orders(acts) == [StartGroup(C)]
    assert keys(node) == [(A, "held", False), (C, "starting", False), (B, "critical", True)]


def test_a_translated_frame_is_answered_in_our_own_layout() -> None:
    """Two nodes that both reloaded must not keep translating for each other (layouts.py):
    a translated frame says the peer's files changed, so ours go out as they are."""
    node, peer, _ = joined()
    acts = node.feed(Reconfigured(params(fingerprint=FP + 6)), 2.0)
    assert last_hb(acts).fingerprint == FP  # the peer last said it runs FP: its layout
    acts = node.feed(peer.frame(2.5, fingerprint=FP, flags=NODE_FLAG_TRANSLATED), 2.5)
    acts += node.feed(Tick(), 5.0)
    hb = last_hb(acts)
    assert hb.fingerprint is None and not hb.node_flags & NODE_FLAG_TRANSLATED
    acts = node.feed(peer.frame(5.5, fingerprint=FP + 6, flags=NODE_FLAG_TRANSLATED), 5.5)
    assert node.snapshot().peers[0].config_match  # it translates into ours: readable
