"""Core fencing (fencing.py, the fence table of states.py, the takeover gate in groups.py):
when the peer is fenced, that nothing is taken over before the fence is confirmed, the head
start, retries, fence-ack, a peer that left or was never seen, a peer returning mid-fence.

calc is the local node, prime its peer. Group A's primary is prime, B's is calc; unless a
test says otherwise prime holds A and calc holds B when prime falls silent. Each test drives
the core step by step and asserts the whole fence state (`fence`), the group states and the
orders after every step.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import pytest
from core_helpers import (
    CRITICAL,
    ETH,
    GONE,
    HELD,
    LEAVING,
    NONE,
    STOPPING,
    TTY,
    A,
    B,
    Peer,
    logs,
    orders,
    params,
)

from twinbeat.core import (
    Action,
    CoreMisuse,
    FenceAcknowledged,
    FenceFailed,
    FencePeer,
    GroupSpec,
    GroupStarted,
    LeftoversFound,
    Node,
    Params,
    PeerFenced,
    PingReachability,
    SendHeartbeat,
    Started,
    StartGroup,
    StatusChanged,
    Tick,
)
from twinbeat.core.fencing import HISTORY, head_start
from twinbeat.core.states import (
    FENCE_TRANSITIONS,
    FenceState,
    FenceTrigger,
    fence_step,
)

FENCING = params(fencing=True, fence_delay=5.0)
# prime goes silent after its frame at t=2: both links dead at 2 + deadtime + grace.
DEAD_AT = 12.05


def fence(node: Node) -> tuple[str, int, str | None, float | None, bool]:
    """The fence state as the status shows it: state, attempts, last result, next attempt,
    degraded."""
    f = node.snapshot().fencing
    assert f is not None
    assert (f.reason is not None) == f.degraded
    return f.state, f.attempts, f.last_result, f.next_attempt, f.degraded


def groups(node: Node) -> list[str]:
    return [g.local_state for g in node.snapshot().groups]


def alive(node: Node) -> bool:
    return node.snapshot().peers[0].alive


def fence_logs(actions: list[Action]) -> list[str]:
    words = ("STONITH", "reset", "fence-ack", "left gracefully", "not heard", "paused")
    return [m for m in logs(actions) if any(w in m for w in words)]


@dataclass
class Pair:
    """calc's core and a scripted prime whose frames echo calc's latest heartbeat."""

    p: Params = FENCING
    peer: Peer = field(default_factory=Peer)

    def __post_init__(self) -> None:
        self.node = Node(self.p, 0.0)
        self.feed(Started(), 0.0)
        self.feed(LeftoversFound(()), 0.0)

    def feed(self, event: object, t: float) -> list[Action]:
        acts = self.node.feed(event, t)  # type: ignore[arg-type]
        for a in acts:
            if isinstance(a, SendHeartbeat):
                self.peer.heard = a.timestamp_ms
        return acts

    def hear(self, t: float, groups: bytes, *, state: int = 2,
             generation: int | None = None) -> list[Action]:
        """prime's heartbeat at `t`, on both links (the second copy is a duplicate)."""
        first = self.peer.frame(t, groups=groups, state=state, generation=generation)
        copy = self.peer.frame(t, link=TTY, groups=groups, state=state,
                               sequence=self.peer.sequence, generation=generation)
        return self.feed(first, t) + self.feed(copy, t)

    def run(self, until: float) -> list[Action]:
        """Tick at every deadline up to `until`, as the daemon does (a feed every keepalive:
        a longer gap would be a stall of this node)."""
        acts: list[Action] = []
        while (d := self.node.next_deadline()) is not None and d <= until:
            acts += self.feed(Tick(), max(d, self.node.snapshot().now))
        return acts


def serving(p: Params = FENCING) -> Pair:
    """prime holds A, calc holds B; prime's last frame is at t=2."""
    pair = Pair(p)
    pair.hear(1.0, bytes([HELD, NONE]))  # calc claims B
    acts = pair.hear(2.0, bytes([HELD, NONE]))  # prime echoes the claim
    assert orders(acts) == [StartGroup(B)]
    pair.feed(GroupStarted(B), 2.5)
    assert groups(pair.node) == ["none", "held"]
    if p.fencing:
        assert fence(pair.node) == ("idle", 0, None, None, False)
    return pair


def dead_and_waiting(p: Params = FENCING) -> Pair:
    pair = serving(p)
    assert orders(pair.run(DEAD_AT - 0.01)) == []
    acts = pair.run(DEAD_AT)
    assert "node prime: is dead" in logs(acts)
    assert fence_logs(acts) == ["STONITH of node prime in 5s: prime has the head start"]
    assert orders(acts) == []  # A is claimed, not started: the fence comes first
    assert groups(pair.node) == ["claiming", "held"]
    assert fence(pair.node) == ("waiting", 0, None, DEAD_AT + 5.0, True)
    return pair


def fencing(p: Params = FENCING) -> Pair:
    pair = dead_and_waiting(p)
    assert orders(pair.run(DEAD_AT + 4.99)) == []
    acts = pair.run(DEAD_AT + 5.0)
    assert fence_logs(acts) == ["Initiating STONITH of node prime"]
    assert orders(acts) == [FencePeer("prime")]
    assert fence(pair.node) == ("fencing", 1, None, None, True)
    assert groups(pair.node) == ["claiming", "held"]
    return pair


# ---------------------------------------------------------------------- the main path


def test_without_fencing_configured_nothing_changes() -> None:
    pair = serving(params())
    assert pair.node.snapshot().fencing is None
    acts = pair.run(DEAD_AT)
    assert orders(acts) == [StartGroup(A)]  # taken over at once, as always
    for event in (PeerFenced("prime"), FenceFailed("prime", "x"), FenceAcknowledged("prime")):
        with pytest.raises(CoreMisuse, match="without fencing configured"):
            pair.node.feed(event, DEAD_AT)
    assert groups(pair.node) == ["starting", "held"]


def test_a_dead_peer_is_fenced_after_the_head_start_and_only_then_taken_over() -> None:
    pair = fencing()
    t = DEAD_AT + 6.0
    acts = pair.feed(PeerFenced("prime"), t)
    assert fence_logs(acts) == ["node prime now reset"]
    assert orders(acts) == [StartGroup(A)]
    assert "acquiring resource group: " + A in logs(acts)
    assert fence(pair.node) == ("fenced", 1, "fenced", None, False)
    assert groups(pair.node) == ["starting", "held"]
    acts = pair.feed(GroupStarted(A), t + 1)
    assert logs(acts) == [f"Resource group {A} acquired (took over from prime)",
                          "mach_down takeover complete for node prime."]
    assert fence(pair.node) == ("fenced", 1, "fenced", None, False)
    snap = pair.node.snapshot().fencing
    assert snap is not None and [(r.at, r.result, r.reason) for r in snap.history] == [
        (t, "fenced", None)]
    assert snap.since == t


def test_the_node_busy_with_the_first_group_fences_at_once() -> None:
    # B (calc's, held by calc) is now the first haresources line: calc has the head start.
    p = params(fencing=True, fence_delay=5.0, groups=(GroupSpec(B, "calc"), GroupSpec(A, "prime")))
    pair = Pair(p)
    pair.hear(1.0, bytes([NONE, HELD]))
    assert orders(pair.hear(2.0, bytes([NONE, HELD]))) == [StartGroup(B)]
    pair.feed(GroupStarted(B), 2.5)
    acts = pair.run(DEAD_AT)
    assert fence_logs(acts) == ["Initiating STONITH of node prime"]
    assert orders(acts) == [FencePeer("prime")]
    assert fence(pair.node) == ("fencing", 1, None, None, True)
    assert groups(pair.node) == ["held", "claiming"]


@pytest.mark.parametrize(
    ("mine", "theirs", "primary", "first"),
    [(HELD, (), "prime", "calc"),  # only calc is busy with the first group
     (NONE, (0,), "calc", "prime"),  # only prime is
     (HELD, (0,), "prime", "prime"),  # both (split brain): its primary
     (NONE, (1,), "calc", "calc"),  # neither: its primary
     (STOPPING, (), "prime", "calc")],  # stopping counts as busy
)
def test_the_head_start_rule(mine: int, theirs: tuple[int, ...], primary: str,
                             first: str) -> None:
    p = params(groups=(GroupSpec(A, primary), GroupSpec(B, "calc")))
    assert head_start(p, bytes([mine, NONE]), theirs) == first


def test_the_head_start_without_groups_goes_to_the_first_name() -> None:
    assert head_start(params(groups=()), b"", ()) == "calc"


# ---------------------------------------------------------------------- failures, fence-ack


def test_a_failed_fence_is_retried_with_a_capped_backoff_and_nothing_is_taken_over() -> None:
    pair = fencing()
    t = DEAD_AT + 6.0
    waits = [5.0, 10.0, 20.0, 40.0, 40.0]  # 0.5 deadtime doubling, capped at 4 deadtime
    for attempt, wait in enumerate(waits, start=1):
        acts = pair.feed(FenceFailed("prime", "timed out"), t)
        assert fence_logs(acts) == [
            "STONITH of node prime failed: timed out",
            f"Not taking over from node prime: STONITH retried in {wait:g}s (or confirm it "
            "down: twinbeat fence-ack prime)"]
        assert orders(acts) == []
        assert fence(pair.node) == ("failed", attempt, "failed", t + wait, True)
        assert [a.text for a in acts if isinstance(a, StatusChanged)] == [
            "active; holding 1/2 groups; prime dead (0/2 links); STONITH of prime: failed "
            f"({attempt} attempt{'' if attempt == 1 else 's'})"]
        assert orders(pair.run(t + wait - 0.01)) == []
        acts = pair.run(t + wait)
        assert fence_logs(acts) == [f"Initiating STONITH of node prime (attempt {attempt + 1})"]
        assert orders(acts) == [FencePeer("prime")]
        assert fence(pair.node) == ("retrying", attempt + 1, "failed", None, True)
        assert groups(pair.node) == ["claiming", "held"]
        t += wait + 1.0
    acts = pair.feed(PeerFenced("prime"), t)
    assert orders(acts) == [StartGroup(A)]
    assert fence(pair.node) == ("fenced", 6, "fenced", None, False)
    # Since start-up, for the metrics: every attempt and every outcome, beyond the history.
    snap = pair.node.snapshot().fencing
    assert snap is not None
    assert (snap.attempts_total, snap.results) == (6, {"failed": 5, "fenced": 1})


def test_an_administrator_confirms_the_peer_down_and_the_takeover_proceeds() -> None:
    pair = fencing()
    t = DEAD_AT + 6.0
    pair.feed(FenceFailed("prime", "no route to the PDU"), t)
    snap = pair.node.snapshot().fencing
    assert snap is not None
    assert snap.reason == ("STONITH of node prime failed (no route to the PDU); retrying, or "
                           "`twinbeat fence-ack prime`")
    acts = pair.feed(FenceAcknowledged("prime"), t + 1)
    assert fence_logs(acts) == ["node prime confirmed down by an administrator (fence-ack): "
                                "taking over from it"]
    assert orders(acts) == [StartGroup(A)]
    assert fence(pair.node) == ("fenced", 1, "acknowledged", None, False)
    # A second confirmation changes nothing.
    acts = pair.feed(FenceAcknowledged("prime"), t + 2)
    assert fence_logs(acts) == ["fence-ack prime: node prime is already confirmed down"]
    assert fence(pair.node) == ("fenced", 1, "acknowledged", None, False)
    snap = pair.node.snapshot().fencing
    assert snap is not None
    assert (snap.attempts_total, snap.results) == (1, {"failed": 1, "acknowledged": 1})


def test_a_result_that_comes_after_fence_ack_is_stale_logged_and_ignored() -> None:
    pair = fencing()
    t = DEAD_AT + 6.0
    acts = pair.feed(FenceAcknowledged("prime"), t)
    assert orders(acts) == [StartGroup(A)]
    acts = pair.feed(PeerFenced("prime"), t + 1)
    assert fence_logs(acts) == ["Stale STONITH result ignored: node prime reported reset, but "
                                "no STONITH of it is outstanding"]
    assert orders(acts) == []
    acts = pair.feed(FenceFailed("prime", "late"), t + 2)
    assert fence_logs(acts) == ["Stale STONITH result ignored: STONITH of node prime failed "
                                "(late), but none is outstanding"]
    assert fence(pair.node) == ("fenced", 1, "acknowledged", None, False)
    assert groups(pair.node) == ["starting", "held"]


def test_fence_ack_for_a_live_peer_is_ignored() -> None:
    pair = serving()
    acts = pair.feed(FenceAcknowledged("prime"), 3.0)
    assert fence_logs(acts) == ["fence-ack prime ignored: node prime is alive"]
    assert fence(pair.node) == ("idle", 0, None, None, False)
    assert alive(pair.node)


def test_fence_events_about_another_node_are_misuse_and_change_nothing() -> None:
    pair = fencing()
    for event in (PeerFenced("calc"), FenceFailed("other", "x"), FenceAcknowledged("")):
        with pytest.raises(CoreMisuse, match="which is not the peer"):
            pair.node.feed(event, DEAD_AT + 6)
    assert fence(pair.node) == ("fencing", 1, None, None, True)


# ---------------------------------------------------------------------- the peer comes back


def test_a_peer_heard_again_during_the_head_start_is_not_fenced() -> None:
    pair = dead_and_waiting()
    t = DEAD_AT + 2.0
    acts = pair.hear(t, bytes([HELD, NONE]))
    assert fence_logs(acts) == ["node prime is back: STONITH cancelled"]
    assert fence(pair.node) == ("idle", 0, "cancelled", None, False)
    assert groups(pair.node) == ["none", "held"]  # the claim on A withdrawn: prime holds it
    acts = pair.run(DEAD_AT + 10.0)
    assert not any(isinstance(a, FencePeer) for a in acts)
    assert alive(pair.node)


def test_a_fence_in_flight_cannot_be_recalled_and_its_success_resets_the_peer() -> None:
    pair = fencing()
    t = DEAD_AT + 6.0
    acts = pair.hear(t, bytes([HELD, NONE]))  # the hung peer wakes up, still holding A
    assert fence_logs(acts) == ["node prime is back while STONITH of it is under way: the "
                                "attempt cannot be recalled"]
    assert alive(pair.node)
    assert groups(pair.node) == ["none", "held"]
    assert fence(pair.node) == ("fencing", 1, None, None, True)
    in_flight = pair.peer.frame(t + 0.5, groups=bytes([HELD, NONE]))  # sent before the reset
    acts = pair.feed(PeerFenced("prime"), t + 1)
    assert "node prime: is dead" in logs(acts)
    assert not alive(pair.node)
    assert orders(acts) == [StartGroup(A)]
    assert fence(pair.node) == ("fenced", 1, "fenced", None, False)
    # A frame prime sent before it was reset cannot make it look alive again ...
    assert orders(pair.feed(in_flight, t + 1.1)) == []
    assert not alive(pair.node)
    # ... but the incarnation booted after the reset, which heard us since, can.
    pair.feed(GroupStarted(A), t + 1.2)
    pair.run(t + 30)
    acts = pair.hear(t + 30, bytes([NONE, NONE]), state=1, generation=4)
    assert "Heartbeat restart on node prime" in logs(acts)
    assert alive(pair.node)
    assert fence(pair.node) == ("idle", 1, "fenced", None, False)


def test_a_failed_fence_of_a_peer_that_came_back_is_not_retried() -> None:
    pair = fencing()
    t = DEAD_AT + 6.0
    pair.hear(t, bytes([HELD, NONE]))
    acts = pair.feed(FenceFailed("prime", "refused"), t + 1)
    assert fence_logs(acts) == ["STONITH of node prime failed: refused",
                                "node prime is alive: STONITH not retried"]
    assert fence(pair.node) == ("idle", 1, "failed", None, False)
    assert not any(isinstance(a, FencePeer) for a in pair.run(t + 10))  # until it dies again


def test_a_peer_heard_again_while_backing_off_cancels_the_retries() -> None:
    pair = fencing()
    t = DEAD_AT + 6.0
    pair.feed(FenceFailed("prime", "refused"), t)
    acts = pair.hear(t + 1, bytes([HELD, NONE]))
    assert fence_logs(acts) == ["node prime is back: STONITH cancelled"]
    assert fence(pair.node) == ("idle", 1, "cancelled", None, False)


# ---------------------------------------------------------------------- when no fence runs


def test_a_peer_that_left_gracefully_is_not_fenced() -> None:
    pair = serving()
    acts = pair.hear(3.0, bytes([STOPPING, NONE]), state=LEAVING)
    assert orders(acts) == []
    acts = pair.hear(4.0, bytes([NONE, NONE]), state=LEAVING)  # A released: calc takes it
    assert orders(acts) == [StartGroup(A)]
    pair.feed(GroupStarted(A), 4.5)
    pair.hear(5.0, bytes([NONE, NONE]), state=GONE)
    acts = pair.run(15.1)
    assert "node prime: is dead" in logs(acts)
    assert fence_logs(acts) == ["node prime left gracefully: no STONITH needed"]
    assert fence(pair.node) == ("idle", 0, None, None, False)
    assert groups(pair.node) == ["held", "held"]


def test_a_leaving_peer_that_goes_silent_in_the_middle_of_a_stop_is_fenced() -> None:
    pair = serving()
    pair.hear(3.0, bytes([STOPPING, NONE]), state=LEAVING)
    acts = pair.run(13.05)
    assert "node prime: is dead" in logs(acts)
    assert fence_logs(acts) == ["STONITH of node prime in 5s: prime has the head start"]
    assert fence(pair.node) == ("waiting", 0, None, 18.05, True)
    assert groups(pair.node) == ["claiming", "held"]


def test_a_peer_that_left_a_failed_stop_behind_is_fenced() -> None:
    pair = serving()
    pair.hear(3.0, bytes([CRITICAL, NONE]), state=GONE)  # its stop of A failed, then it left
    acts = pair.run(13.05)
    assert "node prime: is dead" in logs(acts)
    assert fence_logs(acts) == ["STONITH of node prime in 5s: prime has the head start"]
    assert fence(pair.node) == ("waiting", 0, None, 18.05, True)


def test_a_peer_never_heard_since_start_up_is_neither_fenced_nor_taken_over() -> None:
    pair = Pair()
    acts = pair.run(20.05)  # initdead
    assert fence_logs(acts) == [
        "node prime: not heard since start-up: not fencing it, and not taking over from it "
        "until it is heard or `twinbeat fence-ack prime` confirms it is down"]
    assert orders(acts) == []
    assert pair.node.snapshot().state == "active"
    assert groups(pair.node) == ["claiming", "claiming"]
    assert fence(pair.node) == ("unseen", 0, None, None, True)
    assert not any(isinstance(a, FencePeer | StartGroup) for a in pair.run(200.0))
    # The administrator knows prime is off.
    acts = pair.feed(FenceAcknowledged("prime"), 201.0)
    assert orders(acts) == [StartGroup(A), StartGroup(B)]
    assert fence(pair.node) == ("fenced", 0, "acknowledged", None, False)


def test_an_unseen_peer_that_turns_up_is_treated_as_usual() -> None:
    pair = Pair()
    pair.run(20.05)
    acts = pair.hear(21.0, bytes([NONE, NONE]))
    assert fence(pair.node) == ("idle", 0, None, None, False)
    assert fence_logs(acts) == []
    assert alive(pair.node)


def test_fence_ack_during_start_up_ends_the_wait_for_the_peer_at_once() -> None:
    pair = Pair()
    pair.run(5.0)
    assert pair.node.snapshot().state == "joining"
    acts = pair.feed(FenceAcknowledged("prime"), 5.5)
    assert "node prime: is dead" in logs(acts)
    assert "Comms up: local status now active" in logs(acts)
    assert orders(acts) == [StartGroup(A), StartGroup(B)]
    assert fence(pair.node) == ("fenced", 0, "acknowledged", None, False)


def test_an_isolated_node_does_not_fence_until_its_ping_nodes_answer() -> None:
    pair = dead_and_waiting(params(fencing=True, fence_delay=5.0, ping_configured=True))
    pair.feed(PingReachability(False), DEAD_AT + 1)
    acts = pair.run(DEAD_AT + 30)
    assert not any(isinstance(a, FencePeer) for a in acts)
    assert fence(pair.node) == ("waiting", 0, None, DEAD_AT + 5.0, True)
    snap = pair.node.snapshot().fencing
    assert snap is not None and snap.reason is not None and "isolated" in snap.reason
    acts = pair.feed(PingReachability(True), DEAD_AT + 31)
    assert orders(acts) == [FencePeer("prime")]
    assert fence(pair.node) == ("fencing", 1, None, None, True)


def test_a_node_waking_from_a_pause_gives_the_peer_time_to_show_itself() -> None:
    p = params(fencing=True, fence_delay=5.0, groups=(GroupSpec(B, "calc"), GroupSpec(A, "prime")))
    pair = Pair(p)
    pair.hear(1.0, bytes([NONE, HELD]))
    pair.hear(2.0, bytes([NONE, HELD]))
    pair.feed(GroupStarted(B), 2.5)
    pair.run(11.0)
    # prime is not heard after 2 (its deadline: 12.05); calc pauses from 10.5 to 17. The pause
    # is not prime's silence (core/pause.py), but prime was silent 9 s before it: it is dead
    # on waking all the same. calc has the head start, but waits 2 keepalives first.
    acts = pair.feed(Tick(), 17.0)
    assert "node prime: is dead" in logs(acts)
    assert fence_logs(acts) == [
        "This node was paused for 6500 ms: the peer's silence meanwhile is not counted "
        "against it",
        "This node was paused: giving node prime a moment to show itself before fencing it"]
    assert fence(pair.node) == ("waiting", 0, None, 21.0, True)
    acts = pair.hear(17.2, bytes([NONE, HELD]))  # prime answers calc's first heartbeat
    assert fence_logs(acts) == ["node prime is back: STONITH cancelled"]
    assert fence(pair.node) == ("idle", 0, "cancelled", None, False)


def test_a_short_pause_does_not_make_a_silent_peer_dead() -> None:
    """calc pauses 6 s when prime was last heard 1 s before: prime is not dead on waking,
    and prime's frame read next keeps it alive: no fence, no takeover."""
    pair = Pair(params(fencing=True, groups=(GroupSpec(B, "calc"), GroupSpec(A, "prime"))))
    pair.hear(1.0, bytes([NONE, HELD]))
    pair.hear(2.0, bytes([NONE, HELD]))
    pair.feed(GroupStarted(B), 2.5)
    pair.run(3.0)
    acts = pair.feed(Tick(), 15.0)  # past prime's deadline (12.05) by the clock
    assert "node prime: is dead" not in logs(acts)
    assert alive(pair.node) and orders(acts) == []
    acts = pair.hear(15.001, bytes([NONE, HELD]))  # its frames that waited in the kernel
    assert fence_logs(acts) == [] and alive(pair.node)


# ---------------------------------------------------------------------- status and tables


def test_the_snapshot_is_json_and_keeps_the_last_few_outcomes() -> None:
    pair = fencing()
    t = DEAD_AT + 6.0
    for _ in range(HISTORY + 2):
        pair.feed(FenceFailed("prime", "refused"), t)
        next_attempt = fence(pair.node)[3]
        assert next_attempt is not None
        pair.run(next_attempt)
        t = next_attempt
    snap = pair.node.snapshot().fencing
    assert snap is not None and len(snap.history) == HISTORY
    data = json.loads(json.dumps(asdict(pair.node.snapshot())))
    assert data["fencing"]["state"] == "retrying"
    assert data["fencing"]["history"][-1]["result"] == "failed"
    assert data["fencing"]["peer"] == "prime"


def test_the_fence_table_is_keyed_by_states_and_triggers_and_uses_them_all() -> None:
    for (state, trigger), to in FENCE_TRANSITIONS.items():
        assert (type(state), type(trigger), type(to)) == (FenceState, FenceTrigger, FenceState)
    assert {t for _, t in FENCE_TRANSITIONS} == set(FenceTrigger)
    assert {s for s, _ in FENCE_TRANSITIONS} | set(FENCE_TRANSITIONS.values()) == set(FenceState)
    with pytest.raises(CoreMisuse, match="'confirmed' is illegal for fencing in state idle"):
        fence_step(FenceState.IDLE, FenceTrigger.CONFIRMED)


def test_a_frame_on_one_link_only_is_enough_to_cancel() -> None:
    pair = dead_and_waiting()
    acts = pair.feed(pair.peer.frame(DEAD_AT + 1, link=ETH, groups=bytes([HELD, NONE])),
                     DEAD_AT + 1)
    assert fence_logs(acts) == ["node prime is back: STONITH cancelled"]
