"""UdpLink in real network namespaces joined by veth cables (see netns.py for the method)."""

from __future__ import annotations

import pytest
import trio
from netns import Lab, LinkPeer

pytestmark = pytest.mark.root

PORT = 10694
GUARD = 20  # absolute I/O guard per test, seconds


def two_nodes(lab: Lab) -> tuple[str, str, str, str]:
    a, b = lab.netns("a"), lab.netns("b")
    if_a, if_b = lab.ifname("x"), lab.ifname("y")
    lab.veth((a, if_a, "198.18.64.1/24"), (b, if_b, "198.18.64.2/24"))
    return a, b, if_a, if_b


async def exchange(lab: Lab, spec_a: dict, spec_b: dict) -> tuple[LinkPeer, LinkPeer]:
    a = await LinkPeer(lab, spec_a.pop("ns"), {**spec_a, "payload": b"from-a".hex()}).start()
    b = await LinkPeer(lab, spec_b.pop("ns"), {**spec_b, "payload": b"from-b".hex()}).start()
    await a.wait_rx(b"from-b")
    await b.wait_rx(b"from-a")
    return a, b


async def test_bcast_both_ways(lab: Lab) -> None:
    with trio.fail_after(GUARD):
        a, b, if_a, if_b = two_nodes(lab)
        await exchange(lab, {"ns": a, "kind": "bcast", "iface": if_a, "udpport": PORT},
                       {"ns": b, "kind": "bcast", "iface": if_b, "udpport": PORT})


async def test_ucast_both_ways_and_own_address_ignored(lab: Lab) -> None:
    with trio.fail_after(GUARD):
        a, b, if_a, if_b = two_nodes(lab)
        both = ["198.18.64.1", "198.18.64.2"]  # a shared ha.cf lists both nodes
        peer_a, _ = await exchange(
            lab, {"ns": a, "kind": "ucast", "iface": if_a, "udpport": PORT, "peers": both},
            {"ns": b, "kind": "ucast", "iface": if_b, "udpport": PORT, "peers": both})
        # Several frames from b arrived, none of a's own: the self address was skipped.
        await peer_a.wait_for(lambda e: sum(x["event"] == "rx" for x in peer_a.events) >= 5)
        assert peer_a.received() == {b"from-b"}


async def test_ucast_only_to_self_is_down_not_crashed(lab: Lab) -> None:
    with trio.fail_after(GUARD):
        a, _b, if_a, _if_b = two_nodes(lab)
        peer = await LinkPeer(lab, a, {"kind": "ucast", "iface": if_a, "udpport": PORT,
                                       "peers": ["198.18.64.1"], "payload": "00"}).start()
        assert peer.events[0] == {"event": "started", "up": False}


async def test_mcast_both_ways(lab: Lab) -> None:
    with trio.fail_after(GUARD):
        a, b, if_a, if_b = two_nodes(lab)
        common = {"kind": "mcast", "group": "239.255.64.1", "port": PORT + 1,
                  "udpport": PORT, "ttl": 1, "loop": False}
        await exchange(lab, {"ns": a, "iface": if_a, **common}, {"ns": b, "iface": if_b, **common})


async def test_missing_interface_retries_then_comes_up(lab: Lab) -> None:
    with trio.fail_after(GUARD):
        a, b = lab.netns("a"), lab.netns("b")
        if_a, if_b = lab.ifname("x"), lab.ifname("y")
        spec = {"kind": "bcast", "udpport": PORT}
        peer_a = await LinkPeer(lab, a, {**spec, "iface": if_a, "payload": b"from-a".hex()}
                                ).start()
        peer_b = await LinkPeer(lab, b, {**spec, "iface": if_b, "payload": b"from-b".hex()}
                                ).start()
        assert peer_a.events[0] == {"event": "started", "up": False}
        lab.veth((a, if_a, "198.18.66.1/24"), (b, if_b, "198.18.66.2/24"))  # cable plugged in
        await peer_a.wait_for(lambda e: e["event"] == "up")
        await peer_a.wait_rx(b"from-b")
        await peer_b.wait_rx(b"from-a")
        lab.run(a, f"import subprocess; subprocess.run(['ip','link','set','{if_a}','down'])")
        await peer_a.wait_for(lambda e: e["event"] == "down")


async def test_bound_to_device(lab: Lab) -> None:
    """A datagram for our port arriving on another interface is not this link's."""
    with trio.fail_after(GUARD):
        a, b, if_a, _if_b = two_nodes(lab)
        lab.veth((a, lab.ifname("p"), "198.18.67.1/24"), (b, lab.ifname("q"), "198.18.67.2/24"))
        peer = await LinkPeer(lab, a, {"kind": "ucast", "iface": if_a, "udpport": PORT,
                                       "peers": ["198.18.64.2"], "payload": ""}).start()
        lab.run(b, (
            "import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"for _ in range(3): s.sendto(b'wrong-nic', ('198.18.67.1', {PORT}))\n"
            f"s.sendto(b'right-nic', ('198.18.64.1', {PORT}))\n"))
        await peer.wait_rx(b"right-nic")
        assert peer.received() == {b"right-nic"}
