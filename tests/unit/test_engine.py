"""The engine: bytes in → core events, core actions → signed payloads per link.

Real wire codec (C extension), real core; no I/O. The simulator runs the same object, so
these tests pin the translation both depend on.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from twinbeat.core import (
    CoreMisuse,
    FencePeer,
    FrameReceived,
    GroupSpec,
    LeftoversFound,
    Log,
    Params,
    PeerFenced,
    Started,
    StatusChanged,
    Tick,
)
from twinbeat.engine import CROSS_LINK, Engine, Transmit
from twinbeat.wire import Keyring, decode_untrusted, encode

KEY = (1, ("sha256", b"k" * 32))
KEYRING = Keyring(dict([KEY]), 1)
LINKS = {"eth1": 0, "/dev/ttyS0": 0x80}
GROUP = GroupSpec("198.18.1.100", "prime")


def params(node: str, peer: str) -> Params:
    return Params(
        node=node, peer=peer, links=tuple(LINKS), keepalive=1.0, deadtime=5.0,
        warntime=3.0, initdead=10.0, auto_failback=True, groups=(GROUP,),
        fingerprint=0xF00D, generation=4,
    )


def engine(node: str = "prime", peer: str = "calc", now: float = 100.0) -> Engine:
    return Engine(params(node, peer), KEYRING, LINKS, now)


def frame(sender: str = "calc", link_id: int = 0, keyring: Keyring = KEYRING,
          sequence: int = 1) -> bytes:
    return encode(
        keyring, sender=sender, fingerprint=0xF00D, generation=9, sequence=sequence,
        timestamp_ms=1234, echo_ms=0, echo_delay_ms=0, link_id=link_id, node_state=2,
        node_flags=0, groups=b"\x00",
    )


def transmits(outputs: list[object]) -> list[Transmit]:
    return [o for o in outputs if isinstance(o, Transmit)]


def test_a_peer_frame_becomes_frame_received_with_every_field() -> None:
    event = engine().frame_event("eth1", frame())
    assert event == FrameReceived(
        link="eth1", peer="calc", generation=9, sequence=1, timestamp_ms=1234, echo_ms=0,
        echo_delay_ms=0, fingerprint=0xF00D, node_state=2, node_flags=0, groups=b"\x00",
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "length"),
        (b"TB" + bytes(60), "version"),
        (frame(keyring=Keyring({1: ("sha256", b"x" * 32)}, 1)), "mac"),
    ],
)
def test_what_the_wire_refuses_is_counted_here_and_never_becomes_an_event(
    data: bytes, reason: str
) -> None:
    e = engine()
    assert e.frame_event("eth1", data) is None
    assert e.received("eth1", data, 100.0) == []
    assert e.rejections.unattributed == {"eth1": {reason: 2}, "/dev/ttyS0": {}}
    (link,) = (ln for ln in e.snapshot().links if ln.name == "eth1")
    assert link.rejected == {reason: 2}


def rejected(e: Engine) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """(unattributed, the peer's) rejection counts per link, as the snapshot shows them."""
    snap = e.snapshot()
    (peer,) = snap.peers
    return ({ln.name: ln.rejected for ln in snap.links},
            {pl.name: pl.counters.rejected for pl in peer.links})


def test_an_authentic_frame_signed_for_another_link_is_refused_as_cross_link() -> None:
    """Counted on the peer's link when the peer sent it, unattributed for a stranger, and
    not at all for our own broadcast looping back (the core does not count those either)."""
    e = engine()
    assert e.frame_event("/dev/ttyS0", frame(link_id=0)) is None
    assert e.frame_event("/dev/ttyS0", frame(link_id=0, sender="mallory")) is None
    assert e.frame_event("eth1", frame(link_id=0x80, sender="prime")) is None
    assert rejected(e) == (
        {"eth1": {}, "/dev/ttyS0": {CROSS_LINK: 1}},
        {"eth1": {}, "/dev/ttyS0": {CROSS_LINK: 1}},
    )


def test_the_engines_counts_add_to_the_cores_unknown_peer_counts() -> None:
    e = engine()
    e.feed(Started(), 100.0)
    e.received("eth1", frame(sender="mallory"), 100.1)  # authentic: the core counts it
    e.received("eth1", b"junk", 100.2)  # the wire refuses it: counted here
    e.received("eth1", frame(link_id=0x80, sender="mallory"), 100.3)
    assert rejected(e)[0]["eth1"] == {"unknown-peer": 1, "length": 1, CROSS_LINK: 1}


def test_bytes_on_a_link_the_engine_does_not_have_are_a_callers_bug() -> None:
    with pytest.raises(CoreMisuse, match="unknown link"):
        engine().frame_event("eth9", frame())


def test_frames_from_ourselves_and_strangers_are_left_to_the_core() -> None:
    """Who may send is membership policy: the engine passes authentic frames through."""
    e = engine()
    own = e.frame_event("eth1", frame(sender="prime"))
    stranger = e.frame_event("eth1", frame(sender="dana"))
    assert isinstance(own, FrameReceived) and own.peer == "prime"
    assert isinstance(stranger, FrameReceived) and stranger.peer == "dana"
    e.feed(Started(), 100.0)
    e.feed(own, 100.1)
    e.feed(stranger, 100.2)
    (link,) = (ln for ln in e.snapshot().links if ln.name == "eth1")
    assert link.rejected == {"unknown-peer": 1}  # our own looped broadcast is not an error


def test_a_heartbeat_is_signed_once_per_link_with_that_links_id() -> None:
    e = engine()
    e.feed(Started(), 100.0)
    outputs = e.feed(LeftoversFound(()), 100.0)
    (tx,) = transmits(outputs)
    assert [link for link, _ in tx.payloads] == list(LINKS)
    for link, payload in tx.payloads:
        decoded = decode_untrusted(payload, KEYRING)
        assert decoded.sender == "prime"
        assert decoded.link_id == LINKS[link]
        assert decoded.generation == 4
        assert decoded.fingerprint == 0xF00D
        assert decoded.groups == b"\x00"
    assert any(isinstance(o, StatusChanged) for o in outputs)


def test_each_link_echoes_the_timestamp_the_peer_sent_on_that_link() -> None:
    e = engine()
    e.feed(Started(), 100.0)
    e.feed(LeftoversFound(()), 100.0)
    peer_frame = encode(
        KEYRING, sender="calc", fingerprint=0xF00D, generation=9, sequence=1,
        timestamp_ms=777, echo_ms=0, echo_delay_ms=0, link_id=0x80, node_state=1,
        node_flags=0, groups=b"\x00",
    )
    e.received("/dev/ttyS0", peer_frame, 100.2)
    (tx,) = transmits(e.feed(Tick(), 102.0))
    echoes = {link: decode_untrusted(p, KEYRING).echo_ms for link, p in tx.payloads}
    assert echoes == {"eth1": 0, "/dev/ttyS0": 777}


def test_two_engines_wired_back_to_back_see_each_other_alive() -> None:
    """The whole glue, both directions: what one transmits, the other accepts."""
    nodes = {"prime": engine("prime", "calc"), "calc": engine("calc", "prime")}
    pending: list[tuple[str, str, bytes]] = []
    now = 100.0
    for name, e in nodes.items():
        e.feed(Started(), now)
        for tx in transmits(e.feed(LeftoversFound(()), now)):
            pending += [(name, link, data) for link, data in tx.payloads]
    for _ in range(6):
        now += 0.5
        sent, pending = pending, []
        for src, link, data in sent:
            dst = "calc" if src == "prime" else "prime"
            for tx in transmits(nodes[dst].received(link, data, now)):
                pending += [(dst, lk, d) for lk, d in tx.payloads]
        for name, e in nodes.items():
            for tx in transmits(e.feed(Tick(), now)):
                pending += [(name, lk, d) for lk, d in tx.payloads]
    for e in nodes.values():
        (peer,) = e.snapshot().peers
        assert peer.alive
        assert all(link.up for link in peer.links)
        assert all(link.rtt is not None for link in peer.links)


def test_link_ids_must_name_exactly_the_cores_links() -> None:
    with pytest.raises(ValueError, match="do not match"):
        Engine(params("prime", "calc"), KEYRING, {"eth1": 0}, 0.0)


def test_logs_pass_through_unchanged() -> None:
    e = engine()
    outputs = e.feed(Started(), 100.0)
    assert all(isinstance(o, Log | StatusChanged) for o in outputs)


def test_a_fence_order_passes_through_and_results_go_in() -> None:
    """Fencing (docs/core.md): FencePeer leaves the engine as the core gave it; PeerFenced
    goes in. prime hears calc once, then calc falls silent: prime, the group's primary,
    fences it at once."""
    nodes = {"prime": Engine(replace(params("prime", "calc"), fencing=True), KEYRING, LINKS,
                             100.0),
             "calc": engine("calc", "prime")}
    pending: list[tuple[str, str, bytes]] = []
    now = 100.0
    for name, n in nodes.items():
        n.feed(Started(), now)
        pending += [(name, lk, d) for tx in transmits(n.feed(LeftoversFound(()), now))
                    for lk, d in tx.payloads]
    for _ in range(4):
        now += 0.5
        sent, pending = pending, []
        for src, link, data in sent:
            dst = "calc" if src == "prime" else "prime"
            pending += [(dst, lk, d) for tx in transmits(nodes[dst].received(link, data, now))
                        for lk, d in tx.payloads]
        for name, n in nodes.items():
            pending += [(name, lk, d) for tx in transmits(n.feed(Tick(), now))
                        for lk, d in tx.payloads]
    e = nodes["prime"]
    assert e.snapshot().peers[0].alive
    outputs: list[object] = []
    now = 100.2
    while not any(isinstance(o, FencePeer) for o in outputs) and now < 120:
        now = e.next_deadline() or now + 1
        outputs = e.feed(Tick(), now)
    assert FencePeer("calc") in outputs
    e.feed(PeerFenced("calc"), now + 1)
    fencing = e.snapshot().fencing
    assert fencing is not None and fencing.state == "fenced"
