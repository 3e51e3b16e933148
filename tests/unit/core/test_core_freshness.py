"""Issue #11, items 5-8: replays across restarts, generations going backwards, sequence
numbers wrapping, and echoes after weeks of uptime (membership.py, liveness.py,
heartbeat.py). The local node is calc; its peer is prime; A's primary is prime, B's calc.

Each test is a regression test: it failed on the core before the fix it names.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
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
    tick_until,
    ts_of,
)

from twinbeat.core import (
    Action,
    FrameReceived,
    GroupStarted,
    LeftoversFound,
    Node,
    Params,
    RecordPeerGeneration,
    SendHeartbeat,
    Started,
    StartGroup,
    TakeoverRequested,
    Tick,
)
from twinbeat.core.heartbeat import Heartbeats, SentRange
from twinbeat.core.liveness import GRACE
from twinbeat.core.states import ts_after

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
    acts = tick_until(node, 12.0 + GRACE)
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


def test_a_recording_of_the_previous_run_with_the_same_generation_is_a_replay() -> None:
    """prime lost its state dir and came back with the *same* generation, counting from 1
    again on a clock of another origin. A frame its previous run sent just before the crash
    (fresh: it echoes a recent timestamp of calc's) is replayed after calc follows the new
    run. Its sequence lies ahead of the new run's, and its timestamp happens to as well (the
    origins are random): it must still not pass for the newest frame of the new run. (Found
    by the reload simulator, seed 2022, where the old run's sequence had wrapped past 2^32.)"""
    node, peer, echo = joined(peer=Peer(sequence=U32 - 8), peer_groups=bytes([HELD, NONE]))
    for i in range(12):  # the old run wraps past 2^32
        echo = ts_of(node.feed(Tick(), 1.2 + 0.1 * i), echo)
        node.feed(peer.frame(1.25 + 0.1 * i, groups=bytes([HELD, NONE]), echo=echo),
                  1.25 + 0.1 * i)
    echo = ts_of(node.feed(Tick(), 3.0), echo)
    recorded = peer.frame(3.1, groups=bytes([HELD, NONE]), echo=echo)  # never delivered
    echo = ts_of(node.feed(Tick(), 5.0), echo)
    peer.sequence = 0  # the new run counts from 1, its timestamps 1000 s behind the old's

    def new_run(t: float) -> FrameReceived:
        frame = peer.frame(t, state=JOINING, groups=bytes([NONE, NONE]), echo=echo)
        return replace(frame, timestamp_ms=(frame.timestamp_ms - 1_000_000) & U32)

    node.feed(new_run(5.1), 5.1)
    newest = new_run(5.3)
    node.feed(newest, 5.3)
    assert 0 < (recorded.sequence - newest.sequence) & U32 < 1 << 31  # ahead: serially newer
    assert ts_after(recorded.timestamp_ms, newest.timestamp_ms)  # and stamped later
    acts = node.feed(recorded, 5.5)
    snap = node.snapshot()
    assert (snap.peers[0].state, snap.groups[0].holder) == ("up", None), logs(acts)
    assert snap.peers[0].links[0].counters.replayed == 1


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


def claim_after(days: float) -> tuple[list[Action], Node, float]:
    """calc, up for `days` with prime alive throughout, claims group B (its own) when prime
    gives it up; returns what prime's echo of the claim makes calc do."""
    p = params(keepalive=30_000.0, deadtime=DAY, warntime=DAY / 2, initdead=DAY,
               auto_failback=False)
    node, peer, echo = joined(p, peer_groups=bytes([NONE, HELD]))
    t = 1.0
    while t < days * DAY:
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
    return acts, node, t + 3


@pytest.mark.parametrize("days", [1, 30, 45, 60])
def test_a_claim_is_acked_after_weeks_of_uptime(days: float) -> None:
    """Item 8: prime's echo of the claim must be accepted: echoes are checked against what
    calc sent recently, not against its whole lifetime (2^31 ms is 24.8 days)."""
    acts, node, t = claim_after(days)
    assert orders(acts) == [StartGroup(B)]
    node.feed(GroupStarted(B), t + 1)
    assert node.snapshot().groups[1].holder == "calc"


def test_the_uptime_test_catches_an_echo_range_over_the_whole_lifetime(monkeypatch) -> None:
    """Mutation check: with the valid echoes spanning everything sent since the start (the
    bug), the test above fails after 30 days (prime's fresh echoes are refused: calc never
    gets its claim acked — or, since only fresh frames count, even declares prime dead)."""

    def lifetime(self: Heartbeats, now: float, ts: int) -> None:
        if self._first is None:
            self._first = (now, ts)
        self._span_ms = (ts - self._first[1]) & U32
        self._last_ts = ts

    def serial_range(self: SentRange, echo: int) -> bool:
        first = (self.last - self.span_ms) & U32 if self.last is not None else 0
        return self.last is not None and echo != 0 and not ts_after(first, echo) \
            and not ts_after(echo, self.last)

    monkeypatch.setattr(Heartbeats, "_note_sent", lifetime)
    monkeypatch.setattr(SentRange, "contains", serial_range)
    test_a_claim_is_acked_after_weeks_of_uptime(1)
    with pytest.raises(AssertionError):
        test_a_claim_is_acked_after_weeks_of_uptime(30)


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


# ------------------------------------------------------------------ the rule, step by step


def records(acts: list[Action]) -> list[RecordPeerGeneration]:
    return [a for a in acts if isinstance(a, RecordPeerGeneration)]


def test_the_peer_generation_is_recorded_once_per_generation_followed() -> None:
    node = Node(PARAMS, 0.0)  # nothing on disk
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    peer = Peer(heard=1)
    assert records(node.feed(peer.frame(1.0), 1.0)) == [RecordPeerGeneration("prime", 3)]
    echo = 1
    for t in (3.0, 5.0):  # more frames of generation 3: nothing more to record
        echo = ts_of(node.feed(Tick(), t), echo)
        assert records(node.feed(peer.frame(t, echo=echo), t)) == []
    echo = ts_of(node.feed(Tick(), 7.0), echo)
    peer.generation, peer.sequence = 4, 0
    acts = node.feed(peer.frame(7.1, echo=echo), 7.1)
    assert records(acts) == [RecordPeerGeneration("prime", 4)]
    assert "Heartbeat restart on node prime" in logs(acts)


def test_after_our_restart_the_generation_on_disk_names_the_frames() -> None:
    """Params.peer_generation = 3 (our previous run followed prime's generation 3)."""
    node = Node(params(peer_generation=3), 1000.0)
    node.feed(Started(), 1000.0)
    ts = last_hb(node.feed(LeftoversFound(()), 1000.0)).timestamp_ms
    old = Peer(generation=2)
    node.feed(old.frame(1000.5, echo=900_000), 1000.5)  # a replay of generation 2
    same = Peer(generation=3)
    node.feed(same.frame(1000.6, echo=990_000), 1000.6)  # a replay of generation 3
    counters = node.snapshot().peers[0].links[0].counters
    assert (counters.replayed, counters.unechoed, counters.frames_ok) == (1, 1, 0)
    assert node.snapshot().peers[0].generation is None  # following nothing yet
    acts = node.feed(same.frame(1001.0, echo=ts), 1001.0)  # prime, alive, echoes us
    assert records(acts) == [] and not any("generation" in m for m in logs(acts))
    snap = node.snapshot().peers[0]
    assert (snap.alive, snap.generation) == (True, 3)


def test_after_our_restart_a_lower_generation_that_echoes_us_is_reported() -> None:
    node = Node(params(peer_generation=7), 1000.0)
    node.feed(Started(), 1000.0)
    ts = last_hb(node.feed(LeftoversFound(()), 1000.0)).timestamp_ms
    acts = node.feed(Peer(generation=2).frame(1000.5, echo=ts), 1000.5)
    assert ROLLBACK_LOG in logs(acts)
    assert records(acts) == [RecordPeerGeneration("prime", 2)]
    assert node.snapshot().peers[0].alive


def test_a_recording_of_the_previous_incarnation_cannot_take_the_new_ones_place() -> None:
    """prime restarted (3 -> 4). A frame its generation 3 sent just before (so it echoes a
    recent timestamp of calc's) is replayed: fresh, but it brings no news — generation 4 has
    already echoed something newer — so calc keeps following generation 4."""
    node, peer, echo = joined(peer_groups=bytes([HELD, NONE]))
    echo = ts_of(node.feed(Tick(), 3.0), echo)
    recorded = peer.frame(3.1, groups=bytes([HELD, NONE]), echo=echo)
    node.feed(recorded, 3.1)
    echo = ts_of(node.feed(Tick(), 5.0), echo)
    restarted = Peer(generation=4, heard=echo)
    node.feed(restarted.frame(5.1, state=JOINING), 5.1)
    acts = node.feed(replace(recorded, sequence=recorded.sequence + 1), 5.5)
    assert acts == []
    snap = node.snapshot()
    assert (snap.peers[0].generation, snap.peers[0].state) == (4, "up")
    assert snap.peers[0].links[0].counters.replayed == 1
    assert snap.groups[0].holder is None


def test_initdead_counts_from_our_first_heartbeat_not_from_started() -> None:
    """A leftover probe that takes longer than initdead: the peer could not prove itself
    while we were silent, so it is not declared dead at initdead after Started."""
    node = Node(PARAMS, 0.0)
    node.feed(Started(), 0.0)
    acts = node.feed(LeftoversFound(()), 30.0)  # probing took 30 s (initdead is 20)
    assert "node prime: is dead" not in logs(acts) and orders(acts) == []
    assert node.next_deadline() == 32.0  # the next keepalive; links: 30 + 20 + grace
    acts = node.feed(Peer(heard=last_hb(acts).timestamp_ms).frame(31.0), 31.0)
    assert node.snapshot().peers[0].alive and node.snapshot().state == "active"
    assert "node prime: is dead" not in logs(acts)


def test_a_link_that_only_carries_unechoed_frames_says_so_when_it_dies() -> None:
    node, peer, echo = joined()
    t = 1.0
    while t < 31.0:  # prime keeps sending on eth0 but no longer hears calc
        t += 2.0
        node.feed(Tick(), t)
        node.feed(peer.frame(t, echo=echo), t)  # fresh until 21 (the window is 20 s)
    acts = node.feed(Tick(), 31.05)
    assert "Link prime:eth0 dead." in logs(acts)
    assert ("Link prime:eth0: 5 frames heard that echo none of ours (a link that works one "
            "way only, or replayed frames)") in logs(acts)


def test_while_the_peer_is_unproven_we_echo_the_last_frame_received() -> None:
    """In arrival order, so that prime (which may have restarted too) can prove us, and one
    replayed frame cannot pin what we echo."""
    node = Node(PARAMS, 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    # prime has not heard calc yet: its frame is answered at once, echoing it.
    hb = last_hb(node.feed(Peer().frame(1.5, echo=0), 1.5))
    assert hb.echoes[0].echo_ms == 1500
    node.feed(Peer(generation=2).frame(999.0, echo=0), 2.5)  # a replay, "later" ts
    hb = last_hb(node.feed(Peer().frame(2.6, echo=0, sequence=2), 2.6))
    assert hb.echoes[0].echo_ms == 2600
