"""Core monitoring (monitoring.py, issue #12): restart in place, give up after the threshold
or at once when a resource cannot run here, no ping-pong, both nodes failed, expiry and
`twinbeat clear`. Exact steps; the local node is calc, prime the peer; A's primary is prime,
B's is calc. B has three resources: the address, a file system and postgresql."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest
from core_helpers import (
    CRITICAL,
    FAILED,
    HELD,
    NONE,
    STARTING,
    STOPPING,
    A,
    B,
    Peer,
    holding,
    joined,
    last_hb,
    logs,
    monitor_orders,
    orders,
    params,
    tick_until,
    ts_of,
)

from twinbeat.core import (
    Action,
    CoreMisuse,
    FailuresCleared,
    GroupRestarted,
    GroupRestartFailed,
    GroupSpec,
    GroupStarted,
    GroupStopped,
    Node,
    Params,
    ResourceFailed,
    ResourceSnapshot,
    RestartGroup,
    SendHeartbeat,
    ShutdownComplete,
    ShutdownRequested,
    StartGroup,
    StartMonitoring,
    StatusChanged,
    StopGroup,
    StopMonitoring,
    TakeoverRequested,
    Tick,
)
from twinbeat.core import monitoring as monitoring_module

FS = "Filesystem::/dev/sdb1::/srv::ext4"
PG = "postgresql"
SPEC_A = GroupSpec(A, "prime", (A, "apache2"))
SPEC_B = GroupSpec(B, "calc", (B, FS, PG))
MON = params(groups=(SPEC_A, SPEC_B), auto_failback=False)


def view(node: Node, key: str) -> tuple[object, ...]:
    """The whole of a group's state that monitoring touches: local state, holder, fail count,
    failed here, last failure, and each resource's fail count."""
    g = next(g for g in node.snapshot().groups if g.key == key)
    return (g.local_state, g.holder, g.fail_count, g.failed_here, g.last_failure,
            tuple(r.fail_count for r in g.resources))


def advertised(acts: list[Action]) -> set[bytes]:
    return {a.groups for a in acts if isinstance(a, SendHeartbeat)}


def talk(node: Node, peer: Peer, t: float, groups: bytes) -> list[Action]:
    """prime's frame at `t`, echoing calc's latest heartbeat; calc's actions."""
    acts = node.feed(peer.frame(t, groups=groups), t)
    peer.heard = ts_of(acts, peer.heard)
    return acts


def holding_with_peer(p: Params = MON) -> tuple[Node, Peer, float]:
    """calc holds A and B; prime has just come up, holding nothing (auto_failback off)."""
    peer = Peer()
    node, t = holding(p, peer=peer)
    talk(node, peer, t + 1, bytes([NONE, NONE]))
    return node, peer, t + 1


def test_a_group_is_monitored_exactly_while_it_is_held() -> None:
    node, peer, claim_ts = joined(MON)
    acts = node.feed(peer.frame(2.0, echo=claim_ts), 2.0)
    assert monitor_orders(acts) == [StartGroup(B)]  # not monitored while starting
    acts = node.feed(GroupStarted(B), 2.5)
    assert monitor_orders(acts) == [StartMonitoring(B)]
    assert view(node, B) == ("held", "calc", 0, False, None, (0, 0, 0))
    acts = node.feed(ShutdownRequested(), 3.0)
    assert monitor_orders(acts) == [StopMonitoring(B), StopGroup(B)]


def test_a_failed_resource_is_restarted_here_with_what_follows_it() -> None:
    node, _peer, t = holding_with_peer()
    acts = node.feed(ResourceFailed(B, 1, "not mounted"), t + 1)
    assert monitor_orders(acts) == [StopMonitoring(B), RestartGroup(B, 1)]
    assert logs(acts) == [f"Resource {FS} of group {B} failed (not mounted): restarting it and "
                          "what follows it here (failure 1 of 3 in 600s)"]
    assert advertised(acts) <= {bytes([HELD, HELD])}  # still HELD: prime must not start it
    assert view(node, B) == ("restarting", "calc", 1, False, f"{FS}: not mounted", (0, 1, 0))
    acts = node.feed(GroupRestarted(B), t + 2)
    assert monitor_orders(acts) == [StartMonitoring(B)]
    assert logs(acts) == [f"Resource group {B} restarted"]
    assert view(node, B) == ("held", "calc", 1, False, f"{FS}: not mounted", (0, 1, 0))
    acts = node.feed(ResourceFailed(B, 2, "not running"), t + 3)  # the last one: only it
    assert logs(acts) == [f"Resource {PG} of group {B} failed (not running): restarting it "
                          "here (failure 2 of 3 in 600s)"]
    assert monitor_orders(acts) == [StopMonitoring(B), RestartGroup(B, 2)]
    assert view(node, B) == ("restarting", "calc", 2, False, f"{PG}: not running", (0, 1, 1))
    assert view(node, A) == ("held", "calc", 0, False, None, (0, 0))


def fail_and_restart(node: Node, key: str, resource: int, t: float) -> None:
    acts = node.feed(ResourceFailed(key, resource, "not running"), t)
    assert orders(acts) == [RestartGroup(key, resource)]
    node.feed(GroupRestarted(key), t + 0.5)


def test_the_threshold_gives_the_group_to_the_live_peer() -> None:
    node, peer, t = holding_with_peer()
    fail_and_restart(node, B, 2, t + 1)
    fail_and_restart(node, B, 2, t + 2)
    acts = node.feed(ResourceFailed(B, 2, "not running"), t + 3)
    assert monitor_orders(acts) == [StopMonitoring(B), StopGroup(B)]
    assert logs(acts) == [
        f"Resource {PG} of group {B} failed (not running): giving the group up here "
        "(failure 3 of 3 in 600s); prime may take it over",
        f"Not running resource group {B} here again before its failures expire (600s after "
        f"the last) or `twinbeat clear {B}`",
    ]
    assert last_hb(acts).groups == bytes([HELD, STOPPING])
    assert view(node, B) == ("giving_up", "calc", 3, True, f"{PG}: not running", (0, 0, 3))
    acts = node.feed(GroupStopped(B), t + 4)
    assert logs(acts) == [f"Resource group {B} released"]
    assert last_hb(acts).groups == bytes([HELD, FAILED])
    assert view(node, B) == ("given_up", None, 3, True, f"{PG}: not running", (0, 0, 3))
    # prime claims it and starts it; calc neither objects nor announces
    for i, state in enumerate((STARTING, STARTING, HELD)):
        acts = talk(node, peer, t + 5 + i, bytes([NONE, state]))
        assert orders(acts) == []
    assert view(node, B) == ("given_up", "prime", 3, True, f"{PG}: not running", (0, 0, 3))


def test_a_resource_that_cannot_run_here_gives_the_group_up_at_once() -> None:
    node, _peer, t = holding_with_peer()
    acts = node.feed(ResourceFailed(A, 1, "apache2 not installed", cannot_run=True), t + 1)
    assert monitor_orders(acts) == [StopMonitoring(A), StopGroup(A)]
    assert logs(acts)[0] == (f"Resource apache2 of group {A} cannot run on this node (apache2 "
                             "not installed): giving the group up here; prime may take it over")
    assert view(node, A) == ("giving_up", "calc", 1, True, "apache2: apache2 not installed",
                             (0, 1))


def test_a_threshold_of_one_gives_up_on_the_first_failure() -> None:
    node, _peer, t = holding_with_peer(replace(MON, migration_threshold=1))
    acts = node.feed(ResourceFailed(B, 0, "address gone"), t + 1)
    assert monitor_orders(acts) == [StopMonitoring(B), StopGroup(B)]
    assert logs(acts)[0].endswith("giving the group up here (failure 1 of 1 in 600s); prime "
                                  "may take it over")


def test_no_ping_pong_the_primary_takes_its_group_back_only_once_its_failures_expire() -> None:
    """auto_failback on, calc is B's primary: having given B up, calc leaves it to prime
    until its failure is W old, and only then wants it back (prime stops it first)."""
    p = replace(MON, groups=(SPEC_B,), auto_failback=True, migration_threshold=1,
                failure_timeout=30.0)
    peer = Peer()
    node, t = holding(p, peer=peer)
    talk(node, peer, t + 1, bytes([NONE]))
    node.feed(ResourceFailed(B, 2, "not running"), t + 2)
    acts = node.feed(GroupStopped(B), t + 3)
    assert last_hb(acts).groups == bytes([FAILED])
    talk(node, peer, t + 4, bytes([STARTING]))
    now = t + 5
    while now < t + 2 + 30:  # prime holds B; calc, its primary, does not want it back
        acts = talk(node, peer, now, bytes([HELD]))
        assert orders(acts) == []
        assert view(node, B) == ("given_up", "prime", 1, True, f"{PG}: not running", (0, 0, 1))
        now += 1.0
    assert node.next_deadline() is not None and node.next_deadline() <= t + 32  # type: ignore[operator]
    acts = node.feed(Tick(), t + 32)
    assert logs(acts)[0] == f"Fail count of resource group {B} expired: it may run here again"
    assert view(node, B) == ("none", "prime", 0, False, f"{PG}: not running", (0, 0, 0))
    assert advertised(acts) <= {bytes([NONE])}
    acts = talk(node, peer, t + 33, bytes([STOPPING]))  # prime hands it back (auto_failback)
    assert orders(acts) == []
    acts = talk(node, peer, t + 34, bytes([NONE]))
    assert last_hb(acts).groups == bytes([STARTING])  # calc claims
    acts = talk(node, peer, t + 35, bytes([NONE]))
    assert orders(acts) == [StartGroup(B)]


def test_the_ping_pong_test_catches_a_core_that_forgives_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mutation check: a node that may run a group again as soon as it gave it up claims it
    back from prime (auto_failback), and the test above sees it."""
    monkeypatch.setattr(monitoring_module, "may_run_again", lambda count: True)
    with pytest.raises(AssertionError):
        test_no_ping_pong_the_primary_takes_its_group_back_only_once_its_failures_expire()


def test_the_threshold_test_catches_a_core_that_ignores_the_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(monitoring_module, "threshold_reached", lambda count, threshold: False)
    with pytest.raises(AssertionError):
        test_the_threshold_gives_the_group_to_the_live_peer()


def test_both_failed_the_group_stays_stopped_until_cleared() -> None:
    """prime failed B (it shows FAILED); calc reaches the threshold too: B stays stopped and
    failed on both, until an admin clears calc's failures."""
    node, peer, t = holding_with_peer(replace(MON, migration_threshold=2))
    talk(node, peer, t + 0.5, bytes([NONE, FAILED]))
    fail_and_restart(node, B, 1, t + 1)
    acts = node.feed(ResourceFailed(B, 1, "not mounted"), t + 2)
    assert logs(acts)[0] == (f"Resource {FS} of group {B} failed (not mounted): giving the "
                             "group up here (failure 2 of 2 in 600s); prime has failed it too: "
                             "it stays stopped")
    status = [a.text for a in acts if isinstance(a, StatusChanged)]
    assert status == ["active; holding 1/2 groups; prime alive (1/2 links); FAILED here: " + B]
    acts = node.feed(GroupStopped(B), t + 3)
    assert last_hb(acts).groups == bytes([HELD, FAILED])
    for now in (t + 4, t + 5, t + 6):
        acts = talk(node, peer, now, bytes([NONE, FAILED]))
        assert orders(acts) == []
        assert view(node, B) == ("given_up", None, 2, True, f"{FS}: not mounted", (0, 2, 0))
    acts = node.feed(FailuresCleared(B), t + 7)
    assert logs(acts) == [f"Fail counts cleared for resource group {B}"]
    assert view(node, B) == ("claiming", None, 0, False, None, (0, 0, 0))
    assert last_hb(acts).groups == bytes([HELD, STARTING])
    peer.heard = ts_of(acts, peer.heard)  # prime has seen the claim
    acts = talk(node, peer, t + 8, bytes([NONE, FAILED]))
    assert orders(acts) == [StartGroup(B)]


def test_a_peer_that_failed_to_stop_the_group_blocks_everybody() -> None:
    node, peer, t = holding_with_peer(replace(MON, migration_threshold=1))
    talk(node, peer, t + 0.5, bytes([NONE, CRITICAL]))
    acts = node.feed(ResourceFailed(B, 2, "not running"), t + 1)
    assert orders(acts) == [StopGroup(B)]
    assert logs(acts)[0].endswith("; prime failed to stop it: nobody may start it")


def test_with_the_peer_dead_the_group_stays_stopped_until_its_failures_expire() -> None:
    node, t = holding(replace(MON, migration_threshold=2))
    fail_and_restart(node, B, 0, t + 1)
    acts = node.feed(ResourceFailed(B, 0, "address gone"), t + 2)
    assert logs(acts)[0].endswith("(failure 2 of 2 in 600s); prime is dead: it stays stopped")
    node.feed(GroupStopped(B), t + 3)
    acts = node.feed(Tick(), t + 1 + 600)  # the first failure is forgotten, not the second
    assert orders(acts) == []
    assert view(node, B) == ("given_up", None, 1, True, f"{B}: address gone", (1, 0, 0))
    acts = node.feed(Tick(), t + 2 + 600)
    assert orders(acts) == [StartGroup(B)]  # nobody to ask: claimed and started at once
    assert logs(acts)[:2] == [f"Fail count of resource group {B} expired: it may run here "
                              "again", "acquiring resource group: " + B]
    acts = node.feed(GroupStarted(B), t + 603)
    assert monitor_orders(acts) == [StartMonitoring(B)]


def test_failures_are_forgotten_one_by_one() -> None:
    """A sliding window: the third failure restarts when the first is over W old."""
    node, t = holding(MON)
    fail_and_restart(node, B, 1, t + 10)
    fail_and_restart(node, B, 1, t + 400)
    tick_until(node, t + 609.9)
    assert view(node, B)[2] == 2
    acts = node.feed(Tick(), t + 610)
    assert view(node, B)[2] == 1
    assert [a.text for a in acts if isinstance(a, StatusChanged)] == [
        "active; holding 2/2 groups; prime dead (0/2 links); failures: " + B + " (1)"]
    tick_until(node, t + 700)
    acts = node.feed(ResourceFailed(B, 2, "not running"), t + 700)
    assert orders(acts) == [RestartGroup(B, 2)]
    assert logs(acts)[0].endswith("(failure 2 of 3 in 600s)")
    node.feed(GroupRestarted(B), t + 701)
    acts = node.feed(ResourceFailed(B, 2, "not running"), t + 750)
    assert orders(acts) == [StopGroup(B)]


def test_a_timeout_of_zero_never_forgets() -> None:
    node, t = holding(replace(MON, migration_threshold=1, failure_timeout=0.0))
    acts = node.feed(ResourceFailed(B, 2, "not running"), t + 1)
    assert logs(acts) == [
        f"Resource {PG} of group {B} failed (not running): giving the group up here (failure "
        "1 of 1); prime is dead: it stays stopped",
        f"Not running resource group {B} here again before `twinbeat clear {B}`",
    ]
    node.feed(GroupStopped(B), t + 2)
    acts = node.feed(Tick(), t + 1e6)
    assert orders(acts) == []
    assert view(node, B)[:4] == ("given_up", None, 1, True)
    acts = node.feed(FailuresCleared(None), t + 1e6 + 1)
    assert logs(acts)[0] == "Fail counts cleared for every resource group"
    assert orders(acts) == [StartGroup(B)]


def test_a_restart_that_fails_and_is_rolled_back_gives_the_group_up() -> None:
    node, _peer, t = holding_with_peer()
    node.feed(ResourceFailed(B, 1, "not mounted"), t + 1)
    acts = node.feed(GroupRestartFailed(B, "start of postgresql failed"), t + 2)
    assert monitor_orders(acts) == []  # the driver stopped the whole group already
    assert logs(acts) == [
        f"Resource group {B} failed to restart (start of postgresql failed) and is stopped: "
        "giving it up here; prime may take it over",
        f"Not running resource group {B} here again before its failures expire (600s after "
        f"the last) or `twinbeat clear {B}`",
    ]
    assert last_hb(acts).groups == bytes([HELD, FAILED])
    assert view(node, B) == ("given_up", None, 2, True,
                             f"{FS}: restart failed: start of postgresql failed", (0, 2, 0))


def test_a_restart_that_cannot_stop_is_critical() -> None:
    node, _peer, t = holding_with_peer()
    node.feed(ResourceFailed(B, 2, "not running"), t + 1)
    acts = node.feed(GroupRestartFailed(B, "timed out", rolled_back=False), t + 2)
    assert orders(acts) == []
    assert logs(acts) == [f"Resource group {B} failed to restart and could not be stopped "
                          "(timed out): it stays claimed by this node; manual intervention "
                          "required!"]
    assert last_hb(acts).groups == bytes([HELD, CRITICAL])
    assert view(node, B) == ("critical", "calc", 2, False, f"{PG}: restart failed: timed out",
                             (0, 0, 2))


def test_a_failure_reported_after_the_group_stopped_being_held_is_ignored() -> None:
    """Monitor results race with stops: a stale one changes nothing and is no misuse."""
    node, _peer, t = holding_with_peer()
    node.feed(ResourceFailed(B, 2, "not running"), t + 1)
    before = view(node, B)
    acts = node.feed(ResourceFailed(B, 0, "address gone"), t + 1.1)  # while restarting
    assert orders(acts) == [] and monitor_orders(acts) == []
    assert logs(acts) == [f"Ignoring a failure of {B} in group {B}, which is restarting here "
                          "(no longer monitored)"]
    assert view(node, B) == before
    node.feed(ResourceFailed(A, 1, "x", cannot_run=True), t + 2)
    node.feed(GroupStopped(A), t + 3)
    acts = node.feed(ResourceFailed(A, 1, "x", cannot_run=True), t + 4)  # given up already
    assert orders(acts) == []
    assert view(node, A) == ("given_up", None, 1, True, "apache2: x", (0, 1))


def test_clearing_a_group_that_is_being_given_up_finishes_its_stop_as_a_plain_one() -> None:
    node, t = holding(MON)
    node.feed(ResourceFailed(B, 1, "no such device", cannot_run=True), t + 1)
    acts = node.feed(FailuresCleared(B), t + 2)
    assert view(node, B) == ("stopping", "calc", 0, False, None, (0, 0, 0))
    assert advertised(acts) <= {bytes([HELD, STOPPING])}
    acts = node.feed(GroupStopped(B), t + 3)
    assert orders(acts) == [StartGroup(B)]  # the peer is dead: this node again


def test_shutdown_waits_for_a_restart_then_releases_the_group() -> None:
    node, t = holding(MON)
    node.feed(ResourceFailed(B, 1, "not mounted"), t + 1)
    acts = node.feed(ShutdownRequested(), t + 2)
    assert monitor_orders(acts) == [StopMonitoring(A), StopGroup(A)]
    acts = node.feed(GroupRestarted(B), t + 3)
    assert monitor_orders(acts) == [StartMonitoring(B), StopMonitoring(B), StopGroup(B)]
    node.feed(GroupStopped(A), t + 4)
    acts = node.feed(GroupStopped(B), t + 5)
    assert ShutdownComplete() in acts


def test_a_takeover_request_does_not_pull_a_group_given_up_here() -> None:
    node, peer, t = holding_with_peer()
    node.feed(ResourceFailed(B, 0, "x", cannot_run=True), t + 1)
    node.feed(GroupStopped(B), t + 2)
    talk(node, peer, t + 3, bytes([NONE, HELD]))
    acts = node.feed(TakeoverRequested("local"), t + 4)
    for now in (t + 5, t + 6):
        acts += talk(node, peer, now, bytes([NONE, HELD]))
    assert orders(acts) == []
    assert view(node, B)[:2] == ("given_up", "prime")


def test_the_snapshot_shows_failures_per_resource_as_plain_json() -> None:
    node, _peer, t = holding_with_peer()
    fail_and_restart(node, B, 1, t + 1)
    g = node.snapshot().groups[1]
    assert g.resources == (
        ResourceSnapshot(index=0, text=B, fail_count=0, last_failure=None),
        ResourceSnapshot(index=1, text=FS, fail_count=1, last_failure="not running"),
        ResourceSnapshot(index=2, text=PG, fail_count=0, last_failure=None),
    )
    data = json.loads(json.dumps(asdict(node.snapshot())))
    assert data["groups"][1]["fail_count"] == 1
    assert data["groups"][1]["last_failure"] == f"{FS}: not running"
    assert data["groups"][1]["resources"][1]["text"] == FS


def test_resources_unknown_to_the_params_are_named_by_index() -> None:
    node, t = holding()  # GroupSpecs without resource texts
    acts = node.feed(ResourceFailed(B, 4, "not running"), t + 1)
    assert logs(acts)[0].startswith(f"Resource #4 of group {B} failed (not running): "
                                    "restarting it and what follows it here")
    assert [r.text for r in node.snapshot().groups[1].resources] == [B, "#1", "#2", "#3", "#4"]


@pytest.mark.parametrize(
    "event",
    [
        ResourceFailed("IPaddr::10.9.9.9", 0, "x"),  # unknown group
        ResourceFailed(B, 3, "x"),  # B has three resources
        ResourceFailed(B, -1, "x"),
        GroupRestarted(B),  # no restart running
        GroupRestartFailed(A, "x"),
        FailuresCleared("IPaddr::10.9.9.9"),
    ],
)
def test_illegal_monitoring_events_raise_and_change_nothing(event: object) -> None:
    node, t = holding(MON)
    before = asdict(node.snapshot())
    with pytest.raises(CoreMisuse):
        node.feed(event, t + 1)  # type: ignore[arg-type]
    assert asdict(node.snapshot()) == before


@pytest.mark.parametrize(
    "bad",
    [{"migration_threshold": 0}, {"migration_threshold": True}, {"migration_threshold": 2.5},
     {"failure_timeout": -1.0}, {"failure_timeout": float("nan")},
     {"failure_timeout": float("inf")}],
)
def test_bad_monitoring_params(bad: dict[str, object]) -> None:
    with pytest.raises(CoreMisuse):
        Node(params(**bad), 0.0)


def test_the_defaults_are_pacemaker_like() -> None:
    assert (MON.migration_threshold, MON.failure_timeout) == (3, 600.0)
