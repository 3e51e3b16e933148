"""The links' physical layer in real namespaces: a veth's carrier through rtnetlink events
(links/carrier.py, run by UdpLink), and a socat pty's hang-up (SerialLink). The modem lines
of a real serial port are tested against a fake (tests/unit/links/test_modem.py): a pty has
none."""

from __future__ import annotations

import itertools

import pytest
import trio
from link_peer import LinkPeer

from twinbeat.config.model import Link, Serial
from twinbeat.lab.cable import Cable
from twinbeat.lab.harness import Harness
from twinbeat.lab.network import Port
from twinbeat.links.serial import SerialLink

pytestmark = pytest.mark.root

PORT = 10696
GUARD = 20


def carriers(peer: LinkPeer) -> list[bool]:
    return [e["up"] for e in peer.events if e["event"] == "carrier"]


async def until_carrier(peer: LinkPeer, up: bool) -> None:
    """Until the latest report says `up`. (A veth just made may report no carrier first:
    the kernel publishes a carrier change with up to a second's delay, linkwatch.)"""
    await peer.wait_for(lambda _e: carriers(peer)[-1:] == [up])


async def test_a_veths_carrier_follows_its_peer_end(harness: Harness) -> None:
    with trio.fail_after(GUARD):
        a, b = harness.add_netns("a"), harness.add_netns("b")
        harness.veth(Port(a, "veth-x", "198.18.68.1/24"), Port(b, "veth-y", "198.18.68.2/24"))
        watch = await LinkPeer(harness, b, {"kind": "bcast", "iface": "veth-y", "udpport": PORT,
                                            "payload": "", "carrier": True}).start()
        await until_carrier(watch, True)  # the state at start
        harness.set_link(a, "veth-x", up=False)  # the peer's NIC goes dark
        await until_carrier(watch, False)
        harness.set_link(a, "veth-x", up=True)
        await until_carrier(watch, True)
        harness.set_link(b, "veth-y", up=False)  # our own end down: nothing crosses either
        await until_carrier(watch, False)
        reports = carriers(watch)
        assert all(x != y for x, y in itertools.pairwise(reports)), reports


async def test_a_missing_interface_has_no_carrier_until_it_appears(harness: Harness) -> None:
    with trio.fail_after(GUARD):
        a, b = harness.add_netns("a"), harness.add_netns("b")
        watch = await LinkPeer(harness, b, {"kind": "bcast", "iface": "veth-y", "udpport": PORT,
                                            "payload": "", "carrier": True}).start()
        await until_carrier(watch, False)
        assert carriers(watch) == [False]
        harness.veth(Port(a, "veth-x", "198.18.69.1/24"), Port(b, "veth-y", "198.18.69.2/24"))
        await until_carrier(watch, True)


async def test_a_ptys_hang_up_is_a_lost_carrier_and_its_return_a_carrier(cable: Cable) -> None:
    with trio.fail_after(GUARD):
        path = str(cable.ends[1])
        link = SerialLink(Link(path, 0x80, Serial(path)), 19200)
        reports: list[tuple[str, bool]] = []
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda task_status: link.run(lambda _n, _d: None,
                                             carrier=lambda n, up: reports.append((n, up)),
                                             task_status=task_status))
            assert reports == [(path, True)]  # a pty has no modem lines: it is there
            cable.pull()  # socat gone: the pty hangs up
            while reports[-1:] != [(path, False)]:
                await trio.sleep(0.01)
            cable.plug()
            while reports[-1:] != [(path, True)]:
                await trio.sleep(0.01)
            assert reports == [(path, True), (path, False), (path, True)]
            nursery.cancel_scope.cancel()
