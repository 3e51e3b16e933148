"""Issue #11, items 5-8: replays across restarts, generations going backwards, sequence
numbers wrapping, and echoes after weeks of uptime (membership.py, liveness.py,
heartbeat.py). The local node is calc; its peer is prime; A's primary is prime, B's calc.

Each test is a regression test: it failed on the core before the fix it names.
"""

from __future__ import annotations

from core_helpers import (
    ACTIVE,
    ETH,
    HELD,
    JOINING,
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
    ts_of,
)

from twinbeat.core import (
    Action,
    FrameReceived,
    GroupStarted,
    LeftoversFound,
    Node,
    Params,
    SendHeartbeat,
    Started,
    StartGroup,
    TakeoverRequested,
    Tick,
)
from twinbeat.core.liveness import GRACE

U32 = 0xFFFFFFFF
DAY = 86400.0


def restarted_node(now: float) -> tuple[Node, int]:
    """calc, started again at `now` (its previous run's timestamps all lie before)."""
    node = Node(PARAMS, now)
    node.feed(Started(), now)
    acts = node.feed(LeftoversFound(()), now)
    return node, last_hb(acts).timestamp_ms


# ------------------------------------------------------------------ item 5: replay after restart


def test_replayed_frames_after_our_restart_do_not_fake_a_live_peer() -> None:
    """A capture of prime's frames (generation 3, holding A, echoing calc's *previous* run)
    replayed at a freshly restarted calc while prime is down: prime must not look alive nor
    holding, and after initdead calc acquires both groups."""
    old = Peer()  # what the attacker recorded, long before calc restarted at t=1000
    capture = [old.frame(900.0 + 2 * i, groups=bytes([HELD, NONE]), echo=899_000 + 2000 * i)
               for i in range(20)]
    node, _ = restarted_node(1000.0)
    t, started = 1000.0, []
    for frame in capture:
        t += 1.0
        acts = node.feed(frame, t)
        started += [o for o in orders(acts) if isinstance(o, StartGroup)]
        assert node.snapshot().peers[0].alive is False, logs(acts)
    acts = node.feed(Tick(), 1000.0 + PARAMS.initdead + GRACE)
    started += [o for o in orders(acts) if isinstance(o, StartGroup)]
    assert "node prime: is dead" in logs(acts)
    assert started == [StartGroup(A), StartGroup(B)]
    counters = node.snapshot().peers[0].links[0].counters
    assert counters.frames_ok == 0


def test_frames_recorded_while_we_could_not_hear_them_do_not_revive_a_dead_peer() -> None:
    """Within one run: prime's frames recorded by someone else while calc's cable was cut
    (calc never received them) are replayed after prime died. They are authentic and their
    sequence numbers are new to calc, but the calc timestamp they echo (from before the cut)
    is older than the echo window (2 deadtime): prime stays dead."""
    node, peer, echo = joined(peer_groups=bytes([HELD, NONE]))
    node.feed(peer.frame(2.0, link=TTY, groups=bytes([HELD, NONE]), echo=echo), 2.0)
    node.feed(peer.frame(2.0, groups=bytes([HELD, NONE]), echo=echo), 2.0)
    # calc's cable is cut from 2.0: prime keeps sending (and echoing calc's last frame).
    recorded = [peer.frame(2.0 + 2 * i, groups=bytes([HELD, NONE]), echo=echo)
                for i in range(1, 8)]
    acts = node.feed(Tick(), 12.0 + GRACE)
    assert "node prime: is dead" in logs(acts)
    assert StartGroup(A) in orders(acts)
    t = 1.0 + 2 * PARAMS.deadtime + PARAMS.keepalive  # the echo (calc's ts at 1.0) is too old
    for frame in recorded:  # replayed one by one after prime is gone for good
        acts = node.feed(frame, t)
        assert node.snapshot().peers[0].alive is False
        t += 3.0
    assert node.snapshot().groups[0].holder == "calc"
    assert node.snapshot().peers[0].links[0].counters.unechoed == len(recorded)


def test_both_nodes_restarting_together_find_each_other_without_initdead() -> None:
    """The start-up sequence: neither has heard the other; each must echo the other before
    either counts as alive, and that takes a keepalive or two, not initdead."""
    calc_p, prime_p = PARAMS, params(node="prime", peer="calc", generation=3)
    nodes = {"calc": Node(calc_p, 0.0), "prime": Node(prime_p, 0.0)}
    sender = {"calc": calc_p, "prime": prime_p}
    queue: list[tuple[float, str, FrameReceived]] = []

    def carry(name: str, acts: list[Action], t: float) -> None:
        for a in acts:
            if isinstance(a, SendHeartbeat):
                other = "prime" if name == "calc" else "calc"
                queue.append((t + 0.01, other, relay(sender[name], a)))

    for n in nodes.values():
        n.feed(Started(), 0.0)
    probed = {"calc": 0.0, "prime": 0.3}  # prime's leftover probe takes a little longer
    t = 0.0
    while not all(n.snapshot().peers[0].alive for n in nodes.values()):
        due = [d for n in nodes.values() if (d := n.next_deadline()) is not None]
        t = min([*due, *probed.values(), *(q[0] for q in queue)])
        assert t < 2 * PARAMS.keepalive + 0.5, "took longer than two keepalives"
        for name in [name for name, at in probed.items() if at <= t]:
            del probed[name]
            carry(name, nodes[name].feed(LeftoversFound(()), t), t)
        for at, dst, frame in [q for q in queue if q[0] <= t]:
            queue.remove((at, dst, frame))
            carry(dst, nodes[dst].feed(frame, t), t)
        for name, n in nodes.items():
            if (d := n.next_deadline()) is not None and d <= t:
                carry(name, n.feed(Tick(), t), t)
    assert [n.snapshot().state for n in nodes.values()] == ["active", "active"]


def relay(src: Params, hb: SendHeartbeat, link: str = ETH) -> FrameReceived:
    """What the other node's core receives for `hb` on `link` (the wire, without bytes)."""
    echo = next(e for e in hb.echoes if e.link == link)
    return FrameReceived(
        link=link, peer=src.node, generation=src.generation, sequence=hb.sequence,
        timestamp_ms=hb.timestamp_ms, echo_ms=echo.echo_ms, echo_delay_ms=echo.echo_delay_ms,
        fingerprint=src.fingerprint, node_state=hb.node_state, node_flags=hb.node_flags,
        groups=hb.groups,
    )


# ------------------------------------------------------------------ item 6: generation backwards


ROLLBACK_LOG = ("node prime: generation went backwards (7 -> 2): state dir lost or restored "
                "from a snapshot? accepting it: it echoes our frames")


def test_a_peer_whose_generation_went_backwards_is_accepted_once_it_echoes_us() -> None:
    """prime was reimaged (generation 7 -> 2) and runs: its frames echo calc's, so they are
    fresh. calc accepts generation 2, says so once, and never takes prime's group A."""
    node, peer, echo = joined(peer=Peer(generation=7), peer_groups=bytes([HELD, NONE]))
    node.feed(peer.frame(2.0, groups=bytes([HELD, NONE]), echo=echo), 2.0)
    peer.generation, peer.sequence = 2, 0
    seen: list[str] = []
    t = 2.0
    while t < 40.0:
        t += 2.0
        acts = node.feed(Tick(), t)
        echo = ts_of(acts, echo)
        acts += node.feed(peer.frame(t, state=ACTIVE, groups=bytes([HELD, NONE]), echo=echo), t)
        echo = ts_of(acts, echo)
        seen += logs(acts)
        assert StartGroup(A) not in orders(acts)
    assert seen.count(ROLLBACK_LOG) == 1
    assert "node prime: is dead" not in seen
    snap = node.snapshot()
    assert (snap.peers[0].alive, snap.peers[0].generation) == (True, 2)
    assert snap.groups[0].holder == "prime"


def test_a_lower_generation_without_an_echo_is_still_a_replay() -> None:
    node, peer, _ = joined(peer=Peer(generation=7))
    acts = node.feed(peer.frame(2.0, generation=2, groups=bytes([HELD, HELD]), echo=0), 2.0)
    assert acts == []
    snap = node.snapshot()
    assert (snap.peers[0].generation, snap.peers[0].links[0].counters.replayed) == (7, 1)
    assert snap.groups[0].holder is None


def test_a_restart_with_the_same_generation_is_recognised_by_its_echo() -> None:
    """prime's state dir restored from a snapshot taken one generation earlier: it comes back
    with the *same* generation and sequence numbers from 1 again. Its frames echo calc's."""
    node, peer, echo = joined(peer_groups=bytes([HELD, NONE]))
    t = 1.0
    for _ in range(5):
        t += 2.0
        acts = node.feed(Tick(), t)
        echo = ts_of(acts, echo)
        node.feed(peer.frame(t, groups=bytes([HELD, NONE]), echo=echo), t)
    peer.sequence = 0  # the new incarnation starts counting again, having heard calc's last
    echo = ts_of(node.feed(Tick(), t + 2.0), echo)
    acts = node.feed(peer.frame(t + 2.1, state=JOINING, groups=bytes([NONE, NONE]), echo=echo),
                     t + 2.1)
    assert any("sequence numbers" in m and "accepting it: it echoes our frames" in m
               for m in logs(acts)), logs(acts)
    snap = node.snapshot()
    assert (snap.peers[0].alive, snap.peers[0].state) == (True, "up")
    assert snap.groups[0].holder is None


# ------------------------------------------------------------------ item 7: sequence wrap


def test_sequence_numbers_wrap_without_a_replay_or_a_takeover() -> None:
    """prime's sequence passes 2^32 - 1 and starts again at 1 (0 is never sent)."""
    node, peer, echo = joined(peer=Peer(sequence=U32 - 8), peer_groups=bytes([HELD, NONE]))
    t = 1.0
    while t < 60.0:
        t += 2.0
        acts = node.feed(Tick(), t)
        echo = ts_of(acts, echo)
        for link in (ETH, TTY):
            seq = peer.sequence if link == TTY else None
            acts += node.feed(peer.frame(t, link=link, groups=bytes([HELD, NONE]), echo=echo,
                                         sequence=seq), t)
        assert StartGroup(A) not in orders(acts)
        assert not any("dead" in m for m in logs(acts)), logs(acts)
    assert peer.sequence < 100  # it did wrap
    snap = node.snapshot()
    assert [(lk.up, lk.counters.replayed) for lk in snap.peers[0].links] == [(True, 0), (True, 0)]
    assert snap.groups[0].holder == "prime"


def test_a_replay_from_before_the_wrap_is_still_a_replay() -> None:
    node, peer, echo = joined(peer=Peer(sequence=U32 - 3))
    before_wrap = peer.frame(2.0, echo=echo)  # sequence 2^32 - 2
    node.feed(before_wrap, 2.0)
    for i in range(1, 6):
        node.feed(peer.frame(2.0 + i, echo=echo), 2.0 + i)
    assert peer.sequence < 10  # it wrapped
    assert node.feed(before_wrap, 8.0) == []
    assert node.snapshot().peers[0].links[0].counters.replayed == 1


# ------------------------------------------------------------------ item 8: weeks of uptime


def test_a_claim_is_acked_after_thirty_days_of_uptime() -> None:
    """calc has been up 30 days with prime alive throughout; prime gives group B up (its
    primary is calc) and calc claims it. prime's echo of the claim must be accepted: the
    echo is checked against what calc sent recently, not against its whole lifetime."""
    p = params(keepalive=30_000.0, deadtime=DAY, warntime=DAY / 2, initdead=DAY,
               auto_failback=False)
    node, peer, echo = joined(p, peer_groups=bytes([NONE, HELD]))
    t = 1.0
    while t < 30 * DAY:
        t += 20_000.0
        acts = node.feed(Tick(), t)
        echo = ts_of(acts, echo)
        node.feed(peer.frame(t, groups=bytes([NONE, HELD]), echo=echo), t)
    acts = node.feed(TakeoverRequested("local"), t + 1)
    echo = ts_of(acts, echo)
    acts = node.feed(peer.frame(t + 2, groups=bytes([NONE, NONE | 0x10]), echo=echo), t + 2)
    echo = ts_of(acts, echo)
    assert node.snapshot().groups[1].local_state == "claiming"
    acts = node.feed(peer.frame(t + 3, groups=bytes([NONE, NONE | 0x10]), echo=echo), t + 3)
    assert orders(acts) == [StartGroup(B)]
    node.feed(GroupStarted(B), t + 4)
    assert node.snapshot().groups[1].holder == "calc"


def test_the_echo_delay_saturates_when_the_peer_has_been_silent_for_long() -> None:
    """The wire's echo delay is a u16 (docs/protocol.md): 66 s after the peer's last frame
    the core used to ask for 66000 ms, which the codec refuses — the daemon died of it."""
    node, _peer, _ = joined()
    delays = []
    t = 1.0
    while t < 80.0:
        t += 2.0
        delays += [e.echo_delay_ms for a in node.feed(Tick(), t)
                   if isinstance(a, SendHeartbeat) for e in a.echoes]
    assert max(delays) == 0xFFFF
