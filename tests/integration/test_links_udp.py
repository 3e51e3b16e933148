"""UdpLink in real network namespaces joined by veth cables (see link_peer.py for the method)."""

from __future__ import annotations

import pytest
import trio
from harness_fixtures import python_ok
from link_peer import LinkPeer

from twinbeat.lab.harness import Harness
from twinbeat.lab.network import Port

pytestmark = pytest.mark.root

PORT = 10694
GUARD = 20  # absolute I/O guard per test, seconds


def two_nodes(harness: Harness) -> tuple[str, str, str, str]:
    a, b = harness.add_netns("a"), harness.add_netns("b")
    if_a, if_b = "veth-x", "veth-y"
    harness.veth(Port(a, if_a, "198.18.64.1/24"), Port(b, if_b, "198.18.64.2/24"))
    return a, b, if_a, if_b


async def exchange(harness: Harness, spec_a: dict, spec_b: dict) -> tuple[LinkPeer, LinkPeer]:
    a = await LinkPeer(harness, spec_a.pop("ns"), {**spec_a, "payload": b"from-a".hex()}).start()
    b = await LinkPeer(harness, spec_b.pop("ns"), {**spec_b, "payload": b"from-b".hex()}).start()
    await a.wait_rx(b"from-b")
    await b.wait_rx(b"from-a")
    return a, b


async def test_bcast_both_ways_and_our_own_broadcasts_never_delivered(harness: Harness) -> None:
    with trio.fail_after(GUARD):
        a, b, if_a, if_b = two_nodes(harness)
        peer_a, peer_b = await exchange(
            harness, {"ns": a, "kind": "bcast", "iface": if_a, "udpport": PORT},
            {"ns": b, "kind": "bcast", "iface": if_b, "udpport": PORT})
        # The kernel loops each broadcast back to its sender's socket; the link's filter
        # drops those there (links/ownfilter.py): only the peer's frames are delivered.
        await peer_a.wait_for(lambda e: sum(x["event"] == "rx" for x in peer_a.events) >= 10)
        assert peer_a.received() == {b"from-b"}
        assert peer_b.received() == {b"from-a"}


async def test_ucast_both_ways_and_own_address_ignored(harness: Harness) -> None:
    with trio.fail_after(GUARD):
        a, b, if_a, if_b = two_nodes(harness)
        both = ["198.18.64.1", "198.18.64.2"]  # a shared ha.cf lists both nodes
        peer_a, _ = await exchange(
            harness, {"ns": a, "kind": "ucast", "iface": if_a, "udpport": PORT, "peers": both},
            {"ns": b, "kind": "ucast", "iface": if_b, "udpport": PORT, "peers": both})
        # Several frames from b arrived, none of a's own: the self address was skipped.
        await peer_a.wait_for(lambda e: sum(x["event"] == "rx" for x in peer_a.events) >= 5)
        assert peer_a.received() == {b"from-b"}


async def test_ucast_only_to_self_is_down_not_crashed(harness: Harness) -> None:
    with trio.fail_after(GUARD):
        a, _b, if_a, _if_b = two_nodes(harness)
        peer = await LinkPeer(harness, a, {"kind": "ucast", "iface": if_a, "udpport": PORT,
                                           "peers": ["198.18.64.1"], "payload": "00"}).start()
        assert peer.events[0] == {"event": "started", "up": False}


async def test_mcast_both_ways(harness: Harness) -> None:
    with trio.fail_after(GUARD):
        a, b, if_a, if_b = two_nodes(harness)
        common = {"kind": "mcast", "group": "239.255.64.1", "port": PORT + 1,
                  "udpport": PORT, "ttl": 1, "loop": False}
        await exchange(
            harness, {"ns": a, "iface": if_a, **common}, {"ns": b, "iface": if_b, **common})


async def test_missing_interface_retries_then_comes_up(harness: Harness) -> None:
    with trio.fail_after(GUARD):
        a, b = harness.add_netns("a"), harness.add_netns("b")
        if_a, if_b = "veth-x", "veth-y"
        spec = {"kind": "bcast", "udpport": PORT}
        peer_a = await LinkPeer(harness, a, {**spec, "iface": if_a, "payload": b"from-a".hex()}
                                ).start()
        peer_b = await LinkPeer(harness, b, {**spec, "iface": if_b, "payload": b"from-b".hex()}
                                ).start()
        assert peer_a.events[0] == {"event": "started", "up": False}
        harness.veth(Port(a, if_a, "198.18.66.1/24"), Port(b, if_b, "198.18.66.2/24"))  # plugged
        await peer_a.wait_for(lambda e: e["event"] == "up")
        await peer_a.wait_rx(b"from-b")
        await peer_b.wait_rx(b"from-a")
        harness.set_link(a, if_a, up=False)
        await peer_a.wait_for(lambda e: e["event"] == "down")


async def test_bound_to_device(harness: Harness) -> None:
    """A datagram for our port arriving on another interface is not this link's."""
    with trio.fail_after(GUARD):
        a, b, if_a, _if_b = two_nodes(harness)
        harness.veth(Port(a, "veth-p", "198.18.67.1/24"), Port(b, "veth-q", "198.18.67.2/24"))
        peer = await LinkPeer(harness, a, {"kind": "ucast", "iface": if_a, "udpport": PORT,
                                           "peers": ["198.18.64.2"], "payload": ""}).start()
        python_ok(harness, b, (
            "import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"for _ in range(3): s.sendto(b'wrong-nic', ('198.18.67.1', {PORT}))\n"
            f"s.sendto(b'right-nic', ('198.18.64.1', {PORT}))\n"))
        await peer.wait_rx(b"right-nic")
        assert peer.received() == {b"right-nic"}


async def test_a_watched_link_sees_its_interface_go_down_from_rtnetlink(harness: Harness) -> None:
    """Watched (`carrier`), an interface is checked when its rtnetlink event names it, not
    every second (links/udp.py, issue #17); WATCHED_CHECK_INTERVAL, the safety net, is longer
    than GUARD. The link sends nothing here, so no send error can tell it either."""
    with trio.fail_after(GUARD):
        a, _b, if_a, _if_b = two_nodes(harness)
        peer = await LinkPeer(harness, a, {"kind": "bcast", "iface": if_a, "udpport": PORT,
                                           "payload": "", "carrier": True}).start()
        assert await peer.wait_for(lambda e: e["event"] == "started") == {
            "event": "started", "up": True}
        harness.set_link(a, if_a, up=False)
        await peer.wait_for(lambda e: e["event"] == "down")
