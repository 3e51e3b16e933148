"""Core physical-link signals (`LinkCarrier`; membership.py, liveness.py): a link whose
carrier is lost is dead at once, the peer is dead at once when that was its last link, and
everything else keeps the timers (docs/core.md, Physical links).

calc is the local node, prime its peer (core_helpers). prime holds A, calc holds B; prime's
last frame is at t=2 on both links. Each test drives the core step by step and asserts the
links, the peer and the orders after every step.
"""

from __future__ import annotations

import pytest
from core_helpers import (
    ETH,
    GONE,
    HELD,
    LEAVING,
    NONE,
    PARAMS,
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
    FencePeer,
    GroupStarted,
    LeftoversFound,
    LinkCarrier,
    Node,
    Params,
    PeerFenced,
    SendHeartbeat,
    Started,
    StartGroup,
    Tick,
)
from twinbeat.core.liveness import GRACE

DEADTIME = PARAMS.deadtime


class Pair:
    """calc's core and a scripted prime whose frames echo calc's latest heartbeat."""

    def __init__(self, p: Params = PARAMS) -> None:
        self.peer = Peer()
        self.node = Node(p, 0.0)
        self.sent: list[SendHeartbeat] = []
        self.feed(Started(), 0.0)
        self.feed(LeftoversFound(()), 0.0)

    def feed(self, event: object, t: float) -> list[Action]:
        acts = self.node.feed(event, t)  # type: ignore[arg-type]
        for a in acts:
            if isinstance(a, SendHeartbeat):
                self.peer.heard = a.timestamp_ms
                self.sent.append(a)
        return acts

    def hear(self, t: float, groups: bytes, *, state: int = 2,
             links: tuple[str, ...] = (ETH, TTY), echo: int | None = None) -> list[Action]:
        """prime's heartbeat at `t` on `links` (the copies after the first are duplicates)."""
        first = self.peer.frame(t, link=links[0], groups=groups, state=state, echo=echo)
        frames = [first] + [
            self.peer.frame(t, link=link, groups=groups, state=state, echo=echo,
                            sequence=first.sequence)
            for link in links[1:]
        ]
        return [a for f in frames for a in self.feed(f, t)]

    def run(self, until: float) -> list[Action]:
        acts: list[Action] = []
        while (d := self.node.next_deadline()) is not None and d <= until:
            acts += self.feed(Tick(), max(d, self.node.snapshot().now))
        return acts

    def links(self) -> list[tuple[bool | None, bool | None]]:
        """(up, carrier) of each link, as the status shows them."""
        return [(lk.up, lk.carrier) for lk in self.node.snapshot().peers[0].links]

    def alive(self) -> bool:
        return self.node.snapshot().peers[0].alive

    def groups(self) -> list[str]:
        return [g.local_state for g in self.node.snapshot().groups]


def serving(p: Params = PARAMS) -> Pair:
    """prime holds A, calc holds B; prime's last frame is at t=2 on both links."""
    pair = Pair(p)
    pair.hear(1.0, bytes([HELD, NONE]))  # calc claims B
    assert orders(pair.hear(2.0, bytes([HELD, NONE]))) == [StartGroup(B)]
    pair.feed(GroupStarted(B), 2.5)
    assert pair.groups() == ["none", "held"]
    assert pair.links() == [(True, None), (True, None)]
    return pair


# ---------------------------------------------------------------------- one link, every link


def test_one_links_carrier_loss_is_a_warning_like_its_silence() -> None:
    pair = serving()
    acts = pair.feed(LinkCarrier(ETH, up=False), 2.6)
    assert logs(acts) == ["Link prime:eth0 dead (carrier lost)."]
    assert orders(acts) == []
    assert pair.links() == [(False, False), (True, None)]
    assert pair.alive()
    # The serial line keeps the cluster; its own deadline is unchanged.
    assert orders(pair.run(2.0 + DEADTIME)) == []
    assert pair.alive()
    assert "node prime: is dead" in logs(pair.run(2.0 + DEADTIME + GRACE))


def test_every_links_carrier_lost_the_peer_is_dead_now_and_its_group_taken_over() -> None:
    pair = serving()
    pair.feed(LinkCarrier(TTY, up=False), 2.6)
    assert pair.alive()
    acts = pair.feed(LinkCarrier(ETH, up=False), 2.7)
    assert logs(acts)[:2] == ["Link prime:eth0 dead (carrier lost).", "node prime: is dead"]
    assert orders(acts) == [StartGroup(A)]  # now, not at 2 + deadtime
    assert pair.links() == [(False, False), (False, False)]
    assert not pair.alive()
    assert pair.node.snapshot().peers[0].state == "dead"
    acts = pair.feed(GroupStarted(A), 2.8)
    assert logs(acts) == [f"Resource group {A} acquired (took over from prime)",
                          "mach_down takeover complete for node prime."]


def test_a_killed_daemon_whose_nic_keeps_carrier_still_waits_deadtime() -> None:
    # A process that dies closes its tty: with HUPCL its DTR drops, our DSR/DCD with it. The
    # NIC keeps its carrier, so the UDP link keeps its timer and decides.
    pair = serving()
    acts = pair.feed(LinkCarrier(TTY, up=False), 2.6)
    assert logs(acts) == ["Link prime:/dev/ttyS0 dead (carrier lost)."]
    assert orders(pair.run(2.0 + DEADTIME)) == []
    assert pair.alive()
    acts = pair.run(2.0 + DEADTIME + GRACE)
    assert logs(acts)[:2] == ["Link prime:eth0 dead.", "node prime: is dead"]
    assert orders(acts) == [StartGroup(A)]


def test_a_silent_link_and_a_lost_carrier_make_the_peer_dead_when_the_last_one_dies() -> None:
    # ttyS0 silent since t=2 (dead at its deadline), then eth0 loses its carrier at t=20.
    pair = serving()
    for t in range(3, 21, 2):
        pair.hear(float(t), bytes([HELD, NONE]), links=(ETH,))
        pair.run(float(t))
    assert pair.links() == [(True, None), (False, None)]
    acts = pair.feed(LinkCarrier(ETH, up=False), 20.5)
    assert "node prime: is dead" in logs(acts)
    assert orders(acts) == [StartGroup(A)]


def test_a_report_on_a_dead_link_or_a_repeat_is_only_news() -> None:
    pair = serving()
    pair.feed(LinkCarrier(ETH, up=False), 2.6)
    assert logs(pair.feed(LinkCarrier(ETH, up=False), 2.7)) == []  # no news
    assert logs(pair.feed(LinkCarrier(ETH, up=True), 2.8)) == ["Link prime:eth0: carrier back"]
    assert logs(pair.feed(LinkCarrier(ETH, up=True), 2.9)) == []
    # The carrier back proves nothing: the link stays dead until a frame proves it.
    assert pair.links() == [(False, True), (True, None)]
    assert pair.alive()


# ---------------------------------------------------------------------- frames around a loss


def test_a_frame_sent_before_the_loss_neither_revives_the_link_nor_the_peer() -> None:
    pair = serving()
    in_flight = pair.peer.frame(2.65, groups=bytes([HELD, NONE]))  # echoes calc's t=2.5 frame
    pair.feed(LinkCarrier(TTY, up=False), 2.7)
    acts = pair.feed(LinkCarrier(ETH, up=False), 2.7)
    assert orders(acts) == [StartGroup(A)]
    acts = pair.feed(in_flight, 2.71)  # read after the driver's report
    assert orders(acts) == [] and logs(acts) == []
    assert not pair.alive()
    assert pair.links() == [(False, False), (False, False)]
    assert pair.node.snapshot().peers[0].links[0].counters.stale == 1
    assert pair.groups() == ["starting", "held"]


def test_a_frame_proving_the_link_after_the_loss_brings_it_and_the_peer_back() -> None:
    # A cable pulled and plugged back: the peer was alive all along.
    pair = serving()
    pair.feed(LinkCarrier(TTY, up=False), 2.7)
    pair.feed(LinkCarrier(ETH, up=False), 2.7)
    pair.feed(LinkCarrier(ETH, up=True), 3.0)
    # prime's first frame after the plug echoes what it last heard: before the loss.
    acts = pair.hear(3.01, bytes([HELD, NONE]), links=(ETH,), echo=pair.sent[0].timestamp_ms)
    assert not pair.alive() and orders(acts) == []
    # calc echoes that frame, so prime can prove calc; prime's answer proves the link.
    acts = pair.run(3.01 + PARAMS.keepalive)
    hb = [a for a in acts if isinstance(a, SendHeartbeat)][-1]
    assert hb.echoes[0].echo_ms == 3010
    acts = pair.hear(3.2 + PARAMS.keepalive, bytes([HELD, NONE]), links=(ETH,))
    assert "Link prime:eth0 up." in logs(acts)
    assert pair.alive()
    assert pair.links() == [(True, True), (False, False)]


def test_an_echo_of_the_last_timestamp_before_the_loss_is_not_after_it() -> None:
    pair = serving()
    before = pair.peer.heard  # calc's latest timestamp when the carrier goes
    pair.feed(LinkCarrier(ETH, up=False), 2.7)
    pair.feed(LinkCarrier(TTY, up=False), 2.7)
    acts = pair.hear(2.75, bytes([HELD, NONE]), echo=before)
    assert not pair.alive() and logs(acts) == []


# ---------------------------------------------------------------------- start-up, leaving


def test_a_link_never_heard_keeps_initdead_whatever_its_carrier() -> None:
    # The peer is off at start-up: its NIC has no carrier, its serial line no DTR.
    pair = Pair()
    acts = pair.feed(LinkCarrier(ETH, up=False), 0.1) + pair.feed(LinkCarrier(TTY, up=False), 0.1)
    assert logs(acts) == ["Link prime:eth0: carrier lost", "Link prime:/dev/ttyS0: carrier lost"]
    assert pair.links() == [(None, False), (None, False)]
    assert orders(pair.run(PARAMS.initdead)) == []
    assert "node prime: is dead" in logs(pair.run(PARAMS.initdead + GRACE))


def test_a_peer_that_left_then_lost_power_is_taken_over_quietly() -> None:
    pair = serving()
    pair.hear(3.0, bytes([NONE, NONE]), state=LEAVING)
    pair.hear(3.1, bytes([NONE, NONE]), state=GONE)
    acts = pair.feed(LinkCarrier(ETH, up=False), 3.2) + pair.feed(LinkCarrier(TTY, up=False), 3.2)
    assert [m for m in logs(acts) if "prime" in m][:3] == [
        "Link prime:eth0 dead (carrier lost).", "Link prime:/dev/ttyS0 dead (carrier lost).",
        "node prime: is dead"]
    assert not any(a.level == "warning" for a in acts if hasattr(a, "level"))


# ---------------------------------------------------------------------- fencing


def test_with_fencing_the_fence_runs_before_the_takeover() -> None:
    pair = serving(params(fencing=True, fence_delay=5.0))
    pair.feed(LinkCarrier(TTY, up=False), 2.6)
    acts = pair.feed(LinkCarrier(ETH, up=False), 2.6)
    assert "node prime: is dead" in logs(acts)
    # prime serves the first line: it has the head start, calc waits fence_delay.
    assert orders(acts) == []
    assert pair.groups() == ["claiming", "held"]
    assert orders(pair.run(2.6 + 4.99)) == []
    assert orders(pair.run(2.6 + 5.0)) == [FencePeer("prime")]
    assert pair.groups() == ["claiming", "held"]
    acts = pair.feed(PeerFenced("prime"), 8.0)
    assert orders(acts) == [StartGroup(A)]


# ---------------------------------------------------------------------- misuse, no peer


def test_a_report_on_an_unknown_link_is_misuse_and_changes_nothing() -> None:
    pair = serving()
    before = pair.node.snapshot()
    with pytest.raises(CoreMisuse, match="unknown link"):
        pair.node.feed(LinkCarrier("eth9", up=False), 2.6)
    assert pair.node.snapshot() == before


def test_a_single_node_ignores_carrier_reports() -> None:
    node = Node(params(peer=None, groups=()), 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    assert logs(node.feed(LinkCarrier(ETH, up=False), 0.5)) == []


def test_a_link_never_heard_dies_with_its_carrier_when_the_peer_is_alive_elsewhere() -> None:
    # prime came up on eth0 only; the serial line never carried a frame yet. eth0's carrier
    # goes, then the serial line's: the peer is dead now, not when initdead ends.
    pair = Pair()
    pair.hear(1.0, bytes([HELD, NONE]), links=(ETH,))
    assert pair.links() == [(True, None), (None, None)]
    pair.feed(LinkCarrier(ETH, up=False), 1.5)
    assert pair.alive()
    acts = pair.feed(LinkCarrier(TTY, up=False), 1.6)
    assert logs(acts)[:2] == ["Link prime:/dev/ttyS0 dead (carrier lost).", "node prime: is dead"]
    assert pair.links() == [(False, False), (False, False)]


def test_a_link_whose_carrier_went_before_the_peer_was_heard_dies_with_the_last_one() -> None:
    # The serial line lost its carrier while prime was still unheard (kept for initdead);
    # prime then came up on eth0. When eth0's carrier goes, both are dead: prime is, now.
    pair = Pair()
    pair.feed(LinkCarrier(TTY, up=False), 0.5)
    pair.hear(1.0, bytes([HELD, NONE]), links=(ETH,))
    assert pair.links() == [(True, None), (None, False)]
    acts = pair.feed(LinkCarrier(ETH, up=False), 1.5)
    assert "node prime: is dead" in logs(acts)
    assert pair.links() == [(False, False), (False, False)]
