"""The address agent with an IPv6 VIP (IPaddr2::fd00:...), in namespaces on a bridge: it is
added without DAD, answers a client at once, is announced by unsolicited neighbour
advertisements that move the client's neighbour entry, moves from one node to the other,
and goes on stop. Agent code runs inside the namespaces (see link_peer.py for why); the
namespaces, the bridge and every look at addresses and neighbour caches are the harness's.
All addresses are in the ULA fd00::/8, inside the test's own namespaces."""

from __future__ import annotations

import json

import pytest
import trio
from harness_fixtures import python_ok

from twinbeat.lab import network
from twinbeat.lab.harness import Harness
from twinbeat.lab.network import Port

pytestmark = pytest.mark.root

NET = "fd00:65:6"
VIP = f"{NET}::100"
BOGUS_MAC = "02:00:00:00:00:01"
GUARD = 60

AGENT = """
import json, logging, sys, trio
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
from twinbeat.config.haresources import parse_resource
from twinbeat.resources import AgentError
from twinbeat.resources.ipaddr import IPaddrAgent

async def main():
    out = {{}}
    resource = parse_resource({text!r})
    async with trio.open_nursery() as nursery:
        agent = IPaddrAgent(resource, nursery=nursery, garp_count=2, garp_interval=0.2,
                            garp_repeat_after=0.3)
        for step in {steps!r}:
            try:
                result = await getattr(agent, step)(*([5.0] if step == "monitor" else []))
            except AgentError as exc:
                result = "AgentError: " + str(exc)
            out.setdefault(step, []).append(result if step != "monitor" else
                                            [result.health.value, result.detail])
    print(json.dumps(out))

trio.run(main)
"""

PING = """
import socket, struct, sys, time
sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
sock.settimeout(2)
sock.sendto(struct.pack("!BBHHH", 128, 0, 0, 0x7b, 1) + b"tb", (sys.argv[1], 0))
end = time.monotonic() + 2
while time.monotonic() < end:
    data, source = sock.recvfrom(1500)
    if data[0] == 129 and data[4:6] == b"\\x00\\x7b":
        print(source[0])
        sys.exit(0)
sys.exit(1)
"""


def run_agent(harness: Harness, ns: str, steps: list[str],
              text: str = f"IPaddr2::{VIP}") -> tuple[dict, str]:
    """The agent's results per step, and its log ("LEVEL message" lines)."""
    result = python_ok(harness, ns, AGENT.format(text=text, steps=steps))
    return json.loads(result.stdout), result.stderr


def answers(harness: Harness, ns: str, address: str) -> bool:
    """An ICMPv6 echo from `ns` to `address` is answered."""
    return harness.python(ns, PING, address, timeout=15).returncode == 0


@pytest.fixture
def lan(harness: Harness) -> dict[str, str]:
    """prime, calc and a client, each with eth0 on one bridge (in a namespace of its own)."""
    names = {role: harness.add_netns(role[:2]) for role in ("switch", "prime", "calc", "client")}
    harness.add_bridge(names["switch"], "br0")
    for n, role in enumerate(("prime", "calc", "client"), start=1):
        harness.veth(Port(names["switch"], f"p{n}", master="br0"),
                     Port(names[role], "eth0", f"{NET}::{n}/64"))
    return names


async def test_start_adds_the_vip_without_dad_and_the_client_reaches_it(
        harness: Harness, lan: dict[str, str]) -> None:
    with trio.fail_after(GUARD):
        out, log = run_agent(harness, lan["prime"], ["status", "start", "status", "monitor"])
        assert out == {"status": [False, True], "start": [None], "monitor": [["ok", ""]]}
        assert (VIP, 64) in network.addresses6(lan["prime"], "eth0")  # prefix from ::1/64
        assert f"added {VIP}/64 on eth0" in log
        assert "failed" not in log
        assert answers(harness, lan["client"], VIP)
        assert network.neighbour(lan["client"], VIP) == network.mac(lan["prime"], "eth0")


async def test_the_advertisement_moves_the_clients_entry(harness: Harness,
                                                         lan: dict[str, str]) -> None:
    with trio.fail_after(GUARD):
        harness.set_neighbour(lan["client"], "eth0", VIP, BOGUS_MAC)  # stale
        assert network.neighbour(lan["client"], VIP) == BOGUS_MAC
        run_agent(harness, lan["prime"], ["start"])
        assert network.neighbour(lan["client"], VIP) == network.mac(lan["prime"], "eth0")


async def test_a_takeover_moves_the_vip_and_the_client_follows(harness: Harness,
                                                               lan: dict[str, str]) -> None:
    with trio.fail_after(GUARD):
        run_agent(harness, lan["prime"], ["start"])
        assert answers(harness, lan["client"], VIP)
        assert network.neighbour(lan["client"], VIP) == network.mac(lan["prime"], "eth0")
        out, _ = run_agent(harness, lan["prime"], ["stop", "status"])
        assert out == {"stop": [None], "status": [False]}
        assert VIP not in [a for a, _ in network.addresses6(lan["prime"], "eth0")]
        # heartbeat's IPv6addr spelling, on calc: the client's entry still names prime
        out, _ = run_agent(harness, lan["calc"], ["start"], f"IPv6addr::{VIP}/64/eth0")
        assert out == {"start": [None]}
        assert network.neighbour(lan["client"], VIP) == network.mac(lan["calc"], "eth0")
        assert answers(harness, lan["client"], VIP)


async def test_stop_is_idempotent_and_status_and_monitor_see_it_gone(
        harness: Harness, lan: dict[str, str]) -> None:
    with trio.fail_after(GUARD):
        out, _ = run_agent(harness, lan["prime"], ["start", "stop", "stop", "status", "monitor"])
        assert out == {"start": [None], "stop": [None, None], "status": [False],
                       "monitor": [["not-running", f"{VIP} is not configured"]]}
        assert network.addresses6(lan["prime"], "eth0") == [(f"{NET}::1", 64)]
        assert not answers(harness, lan["client"], VIP)


async def test_a_pulled_cable_fails_the_check(harness: Harness, lan: dict[str, str]) -> None:
    with trio.fail_after(GUARD):
        run_agent(harness, lan["prime"], ["start"])
        harness.set_link(lan["switch"], "p1", False)  # the switch's end: prime loses carrier
        out, _ = run_agent(harness, lan["prime"], ["monitor"], f"IPaddr2::{VIP}/64/eth0")
        assert out == {"monitor": [["failed", "eth0 has no carrier"]]}


async def test_an_interface_set_down_loses_its_ipv6_vip_and_the_check_says_so(
        harness: Harness, lan: dict[str, str]) -> None:
    # Unlike IPv4, the kernel drops IPv6 addresses when their interface is set down
    # (net.ipv6.conf.*.keep_addr_on_down=0): the check sees the VIP gone, the core restarts
    # the group, and the check after that fails on the downed NIC (docs/resources.md).
    with trio.fail_after(GUARD):
        run_agent(harness, lan["prime"], ["start"])
        harness.set_link(lan["prime"], "eth0", False)
        out, _ = run_agent(harness, lan["prime"], ["monitor", "start", "monitor"],
                           f"IPaddr2::{VIP}/64/eth0")
        assert out == {"monitor": [["not-running", f"{VIP} is not configured"],
                                   ["failed", "eth0 is down"]], "start": [None]}


async def test_no_covering_address_is_an_error_naming_the_fix(harness: Harness,
                                                              lan: dict[str, str]) -> None:
    with trio.fail_after(GUARD):
        out, _ = run_agent(harness, lan["prime"], ["start"], "IPaddr2::fd00:99::1")
        assert out["start"][0] == (
            "AgentError: IPaddr2::fd00:99::1: no address on any interface has a network "
            "containing fd00:99::1; give IPaddr2::fd00:99::1/PREFIX/IFACE")
