"""Core heartbeats (heartbeat.py): nothing is sent before the leftovers are known; then one
frame every keepalive and at once on any change, sequence and timestamp increasing."""

from __future__ import annotations

import itertools

from core_helpers import ACTIVE, ETH, GONE, JOINING, PARAMS, STARTING, TTY, Peer, joined, last_hb

from twinbeat.core import (
    Action,
    LeftoversFound,
    LinkEcho,
    Node,
    SendHeartbeat,
    ShutdownRequested,
    Started,
    StatusChanged,
    Tick,
)
from twinbeat.core.heartbeat import BURST, REFILL, Heartbeats, SendBudget
from twinbeat.core.states import Phase


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


# ---------------------------------------------------------------------- on change, rate-limited


def hbs(actions: list[Action]) -> list[SendHeartbeat]:
    return [a for a in actions if isinstance(a, SendHeartbeat)]


def test_a_frame_we_can_only_echo_back_is_answered_at_once() -> None:
    # First contact: prime's frame echoes nothing of calc's. Waiting for calc's next
    # keepalive would cost up to 2 s; calc answers at once, echoing it, so that prime can
    # prove calc, and then calc prime: a round trip, not a keepalive.
    node = Node(PARAMS, 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    [hb] = hbs(node.feed(Peer().frame(0.3, echo=0), 0.3))
    assert hb.echoes[0] == LinkEcho(ETH, 300, 0)
    acts = node.feed(Peer(heard=hb.timestamp_ms).frame(0.31), 0.31)
    assert node.snapshot().peers[0].alive and hbs(acts)  # and answered: it came alive


def test_every_change_goes_out_at_once_on_every_link() -> None:
    node = Node(PARAMS, 0.0)
    node.feed(Started(), 0.0)
    ts = last_hb(node.feed(LeftoversFound(()), 0.0)).timestamp_ms
    # prime comes up at 1.0: calc, active, claims B (its own) in the same step, not at its
    # next keepalive (2.0), one frame for every link.
    acts = node.feed(Peer(heard=ts).frame(1.0), 1.0)
    hb = last_hb(acts)
    assert hb.groups[1] == STARTING and len(hb.echoes) == len(PARAMS.links)
    acts = node.feed(ShutdownRequested(), 1.1)  # leaving (B withdrawn, so gone): at once
    assert last_hb(acts).node_state == GONE


def test_changes_beyond_the_burst_wait_for_the_bucket_then_go_out() -> None:
    node, peer, echo = joined()
    t = 1.0
    sent: list[float] = []
    # A peer flapping its node state as fast as frames come: each change owes an answer.
    for i in range(BURST + 4):
        t += 0.001
        acts = node.feed(peer.frame(t, echo=echo, state=JOINING if i % 2 else ACTIVE), t)
        sent += [t for _ in hbs(acts)]
    # (The answer to prime coming alive in `joined` went out as an early keepalive, which
    # costs no token.) Then nothing more until a token is back.
    assert len(sent) == BURST
    held = node.next_deadline()
    assert held is not None and t < held <= t + PARAMS.keepalive / REFILL
    t = held
    assert hbs(node.feed(Tick(), t))  # the held-back answer goes out when it may
    # Flapping on: heartbeats still go out at least every keepalive, however empty the bucket.
    times = [t]
    while t < held + 3 * PARAMS.keepalive:
        t += 0.01
        due = node.next_deadline()
        if due is not None and due <= t:
            times += [due for _ in hbs(node.feed(Tick(), due))]
        times += [t for _ in hbs(node.feed(peer.frame(t, echo=echo, state=JOINING if round(
            t * 100) % 2 else ACTIVE), t))]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) <= PARAMS.keepalive / REFILL + 0.01
    assert len(times) <= 1 + (t - held) * REFILL / PARAMS.keepalive + 2


def test_the_bucket_gives_a_burst_then_refill_per_keepalive() -> None:
    budget = SendBudget(keepalive=1.0)
    for _ in range(BURST):
        assert budget.ready_at(0.0) == 0.0
        budget.spend(0.0)
    assert budget.ready_at(0.0) == 1.0 / REFILL
    assert budget.ready_at(1.0 / REFILL) == 1.0 / REFILL  # one token back
    budget.spend(1.0 / REFILL)
    assert budget.ready_at(10.0) == 10.0  # full again, never more than BURST
    for _ in range(BURST):
        budget.spend(10.0)
    assert budget.ready_at(10.0) > 10.0


def test_a_change_that_flaps_back_before_its_token_holds_nothing_back() -> None:
    beats = Heartbeats(PARAMS)
    phase, echoes = Phase.ACTIVE, (LinkEcho(ETH, 0, 0), LinkEcho(TTY, 0, 0))
    steady, other = (2, 0, bytes([0, 0])), (2, 0, bytes([1, 0]))
    beats.send(phase, 0.0, steady, echoes)
    t = 0.0
    for _ in range(BURST // 2):  # flapping: each change goes out until the bucket is empty
        t += 0.001
        for state in (other, steady):
            assert beats.due(phase, t, state)
            beats.send(phase, t, state, echoes)
    t += 0.001
    assert not beats.due(phase, t, other)  # held back: it waits for a token
    held = beats.deadline(phase)
    assert held is not None and t < held < t + PARAMS.keepalive
    assert not beats.due(phase, t, steady)  # flapped back to what was sent: nothing to hold
    assert beats.deadline(phase) == t - 0.001 + PARAMS.keepalive  # the keepalive only


def test_a_keepalive_nearly_due_goes_out_with_the_peers_fresh_frame() -> None:
    node, peer, echo = joined()  # its last heartbeat at 1.0: the next due at 3.0
    assert hbs(node.feed(peer.frame(1.9, echo=echo), 1.9)) == []  # not within half of it
    stranger = Peer(name="mallory")
    assert hbs(node.feed(stranger.frame(2.1), 2.1)) == []  # nothing fresh of the peer
    replay = peer.frame(2.2, echo=echo)
    [hb] = hbs(node.feed(replay, 2.2))  # a fresh frame, within half a keepalive: sent along
    assert hbs(node.feed(replay, 2.25)) == []  # its replay: nothing
    assert node.next_deadline() == 2.2 + PARAMS.keepalive  # a keepalive from then on
    assert hb.timestamp_ms == 2200
