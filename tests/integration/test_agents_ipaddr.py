"""IPaddrAgent in a namespace: the VIP comes and goes, and gratuitous ARP moves a peer's
neighbour entry to our MAC. Agent code runs inside the namespace (see link_peer.py for why);
the namespaces, the veth and every look at addresses and ARP caches are the lab harness's."""

from __future__ import annotations

import json

import pytest
import trio
from harness_fixtures import python_ok

from twinbeat.lab import network
from twinbeat.lab.harness import Harness
from twinbeat.lab.network import Address, Port

pytestmark = pytest.mark.root

VIP = "198.18.65.100"
BOGUS_MAC = "02:00:00:00:00:01"
GUARD = 60

AGENT = """
import json, logging, sys, trio
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s")
logging.getLogger("twinbeat").setLevel(logging.DEBUG)
from twinbeat.config.model import IPaddrResource
from twinbeat.resources import AgentError
from twinbeat.resources.ipaddr import IPaddrAgent

async def main():
    out = {{}}
    resource = IPaddrResource("IPaddr", {vip!r}, {prefixlen!r}, {iface!r}, {broadcast!r},
                              "IPaddr::{vip}")
    async with trio.open_nursery() as nursery:
        agent = IPaddrAgent(resource, nursery=nursery, garp_count=3, garp_interval=0.3,
                            garp_repeat_after=0.5)
        for step in {steps!r}:
            try:
                result = await getattr(agent, step)()
            except AgentError as exc:
                result = "AgentError: " + str(exc)
            out.setdefault(step, []).append(result)
    print(json.dumps(out))

trio.run(main)
"""


def run_agent(harness: Harness, ns: str, steps: list[str], *, prefixlen: int | None = None,
              iface: str | None = None, broadcast: str | None = None) -> dict:
    return run_agent_logged(harness, ns, steps, prefixlen=prefixlen, iface=iface,
                            broadcast=broadcast)[0]


def run_agent_logged(harness: Harness, ns: str, steps: list[str], *,
                     prefixlen: int | None = None, iface: str | None = None,
                     broadcast: str | None = None) -> tuple[dict, str]:
    """The agent's results per step, and its log ("LEVEL message" lines)."""
    code = AGENT.format(vip=VIP, prefixlen=prefixlen, iface=iface, broadcast=broadcast,
                        steps=steps)
    result = python_ok(harness, ns, code)
    return json.loads(result.stdout), result.stderr


def addresses(ns: str, ifname: str) -> list[Address]:
    return network.addresses(ns, ifname)


def mac_of(ns: str, ifname: str) -> str:
    return network.mac(ns, ifname)


def neighbour_mac(ns: str) -> str | None:
    return network.neighbour(ns, VIP)


@pytest.fixture
def pair(harness: Harness) -> tuple[str, str, str, str]:
    a, b = harness.add_netns("a"), harness.add_netns("b")
    if_a, if_b = "veth-x", "veth-y"
    harness.veth(Port(a, if_a, "198.18.65.1/24"), Port(b, if_b, "198.18.65.2/24"))
    return a, b, if_a, if_b


async def test_start_adds_vip_and_garp_updates_peer(harness: Harness, pair) -> None:
    a, b, if_a, if_b = pair
    with trio.fail_after(GUARD):
        harness.set_neighbour(b, if_b, VIP, BOGUS_MAC)  # stale
        assert neighbour_mac(b) == BOGUS_MAC
        out = run_agent(harness, a, ["status", "start", "status", "start"])
        assert out["status"] == [False, True]
        assert out["start"] == [None, None]  # a second start is not an error
        vip = [x for x in addresses(a, if_a) if x.address == VIP]
        assert len(vip) == 1
        assert vip[0].prefixlen == 24  # from the covering 198.18.65.1/24
        assert vip[0].label == f"{if_a}:0"
        assert vip[0].broadcast == "198.18.65.255"
        assert neighbour_mac(b) == mac_of(a, if_a)


async def test_announce_again(harness: Harness, pair) -> None:
    a, b, _if_a, if_b = pair
    with trio.fail_after(GUARD):
        out = run_agent(harness, a, ["announce", "start"])
        assert out["announce"][0].startswith("AgentError")  # not held: nothing to announce
        harness.set_neighbour(b, if_b, VIP, BOGUS_MAC)  # stale
        out = run_agent(harness, a, ["announce"])
        assert out["announce"] == [None]
        assert neighbour_mac(b) != BOGUS_MAC


async def test_stop_is_idempotent(harness: Harness, pair) -> None:
    a, _b, if_a, _if_b = pair
    with trio.fail_after(GUARD):
        out = run_agent(harness, a, ["start", "stop", "status", "stop", "stop"])
        assert out["stop"] == [None, None, None]
        assert out["status"] == [False]
        assert [x.address for x in addresses(a, if_a)] == ["198.18.65.1"]


async def test_explicit_prefix_interface_broadcast(harness: Harness, pair) -> None:
    a, _b, if_a, _if_b = pair
    with trio.fail_after(GUARD):
        out = run_agent(harness, a, ["start"], prefixlen=25, iface=if_a, broadcast="198.18.65.127")
        assert out["start"] == [None]
        vip = next(x for x in addresses(a, if_a) if x.address == VIP)
        assert (vip.prefixlen, vip.broadcast) == (25, "198.18.65.127")


async def test_no_covering_network_is_an_error(harness: Harness) -> None:
    ns = harness.add_netns("a")
    with trio.fail_after(GUARD):
        out = run_agent(harness, ns, ["start", "status"])
        assert out["start"][0].startswith("AgentError")
        assert "no address" in out["start"][0]
        assert out["status"] == [False]
        out = run_agent(harness, ns, ["start"], prefixlen=24, iface="tbdmissing")
        assert "no such interface" in out["start"][0]


def assert_started_without_garp(out: dict, log: str, ns: str, ifname: str) -> None:
    assert out["start"] == [None], out
    assert out["status"] == [True, False], out
    assert out["stop"] == [None], out
    assert "INFO" in log and "no gratuitous ARP" in log, log
    assert "ERROR" not in log and "Traceback" not in log, log
    assert [x.address for x in addresses(ns, ifname)].count(VIP) == 0  # stopped again


async def test_vip_on_an_interface_with_arp_off_starts_without_garp(harness: Harness,
                                                                     pair) -> None:
    a, b, if_a, if_b = pair
    with trio.fail_after(GUARD):
        harness.run(["ip", "link", "set", "dev", if_a, "arp", "off"], a, 10).check_returncode()
        harness.set_neighbour(b, if_b, VIP, BOGUS_MAC)  # stale: a GARP would replace it
        out, log = run_agent_logged(harness, a, ["start", "status", "stop", "status"])
        assert neighbour_mac(b) == BOGUS_MAC  # nothing was announced
        assert_started_without_garp(out, log, a, if_a)


async def test_vip_on_a_tun_device_starts_without_garp(harness: Harness) -> None:
    ns = harness.add_netns("t")
    tun = "tbtun0"  # no link-layer address at all: the MAC lookup returned None
    with trio.fail_after(GUARD):
        for argv in (["ip", "tuntap", "add", "dev", tun, "mode", "tun"],
                     ["ip", "link", "set", "dev", tun, "up"]):
            harness.run(argv, ns, 10).check_returncode()
        harness.add_address(ns, tun, "198.18.65.1/24")
        out, log = run_agent_logged(harness, ns, ["start", "status", "stop", "status"])
        assert_started_without_garp(out, log, ns, tun)


QUIET_GROUP = """
import json, trio
from twinbeat.config.model import Group, IPaddrResource
from twinbeat.lab import network
from twinbeat.resources.group import GroupRunner
from twinbeat.resources.ipaddr import IPaddrAgent

class SlowService:
    text = "slow"
    async def start(self): pass
    async def stop(self): await trio.sleep(1.2)
    async def status(self): return False
    async def announce(self): pass
    def quiet(self): pass

async def main():
    resource = IPaddrResource("IPaddr", {vip!r}, None, None, None, "IPaddr::{vip}")
    group = Group("g", "node1", (resource,), "haresources", 1)
    async with trio.open_nursery() as nursery:
        address = IPaddrAgent(resource, nursery=nursery, garp_count=10, garp_interval=0.1,
                              garp_repeat_after=0.5)
        runner = GroupRunner(group, [address, SlowService()])
        await runner.start()
        await trio.sleep(0.3)  # the bursts run
        nursery.start_soon(runner.stop)  # the service stops first (right to left): 1.2 s
        await trio.sleep(0.1)
        network.set_neighbour({peer!r}, {peer_if!r}, {vip!r}, {bogus!r})
        await trio.sleep(0.8)  # eight GARPs would have gone out by now without `quiet`
        during = network.neighbour({peer!r}, {vip!r})
    print(json.dumps({{"during": during, "after": await address.status()}}))

trio.run(main)
"""


async def test_a_stopping_group_stops_announcing_before_its_service_stops(
    harness: Harness, pair
) -> None:
    """GroupRunner.stop silences the address's GARP bursts first, then stops right to left:
    while the service stops, the address is still up but no longer pulls the LAN over."""
    a, b, _if_a, if_b = pair
    with trio.fail_after(GUARD):
        code = QUIET_GROUP.format(vip=VIP, peer=b, peer_if=if_b, bogus=BOGUS_MAC)
        out = json.loads(python_ok(harness, a, code).stdout)
        assert out == {"during": BOGUS_MAC, "after": False}
