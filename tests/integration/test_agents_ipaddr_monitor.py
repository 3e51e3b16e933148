"""IPaddrAgent's check in a namespace: the address, the interface's state, its carrier.

Each step runs the real agent in a fresh process inside the namespace (as
test_agents_ipaddr.py does); between steps the harness changes the network the way a fault
would: the NIC downed, the cable (the veth's other end) gone dark, the address removed.
"""

from __future__ import annotations

import json

import pytest
import trio
from harness_fixtures import python_ok

from twinbeat.lab import network
from twinbeat.lab.harness import Harness
from twinbeat.lab.network import Port

pytestmark = pytest.mark.root

VIP = "198.18.66.100"
GUARD = 60

STEP = """
import json, trio
from twinbeat.config.model import IPaddrResource
from twinbeat.resources.ipaddr import IPaddrAgent

async def main():
    resource = IPaddrResource("IPaddr", {vip!r}, 24, {iface!r}, None, "IPaddr::{vip}")
    agent = IPaddrAgent(resource, garp_count=1)
    if {start!r}:
        await agent.start()
        agent.quiet()
    check = await agent.monitor(5.0)
    print(json.dumps([check.health.value, check.detail]))

trio.run(main)
"""


def check(harness: Harness, ns: str, *, iface: str | None = "veth-m", start: bool = False
          ) -> list[str]:
    return json.loads(python_ok(harness, ns, STEP.format(vip=VIP, iface=iface,
                                                         start=start)).stdout)


async def test_address_link_and_carrier(harness: Harness) -> None:
    a, b = harness.add_netns("a"), harness.add_netns("b")
    harness.veth(Port(a, "veth-m", "198.18.66.1/24"), Port(b, "veth-n", "198.18.66.2/24"))
    with trio.fail_after(GUARD):
        assert check(harness, a) == ["not-running", f"{VIP} is not configured"]
        assert check(harness, a, start=True) == ["ok", ""]
        # the cable: the other end goes dark, this NIC stays up without carrier
        harness.set_link(b, "veth-n", up=False)
        assert check(harness, a) == ["failed", "veth-m has no carrier"]
        harness.set_link(b, "veth-n", up=True)
        assert check(harness, a) == ["ok", ""]
        # the NIC downed here (ip link set down keeps the address)
        harness.set_link(a, "veth-m", up=False)
        assert f"{VIP}/24" in [x.cidr for x in network.addresses(a, "veth-m")]
        assert check(harness, a) == ["failed", "veth-m is down"]
        assert check(harness, a, iface=None) == ["failed", "veth-m is down"]
        harness.set_link(a, "veth-m", up=True)
        # someone removed the address
        network.del_address(a, "veth-m", f"{VIP}/24")
        assert check(harness, a) == ["not-running", f"{VIP} is not configured"]


async def test_address_on_another_interface_than_configured(harness: Harness) -> None:
    a, b = harness.add_netns("a"), harness.add_netns("b")
    harness.veth(Port(a, "veth-m", "198.18.66.1/24"), Port(b, "veth-n", "198.18.66.2/24"))
    harness.veth(Port(a, "veth-o", "198.18.67.1/24"), Port(b, "veth-p", "198.18.67.2/24"))
    with trio.fail_after(GUARD):
        harness.add_address(a, "veth-o", f"{VIP}/24")
        assert check(harness, a) == ["failed", f"{VIP} is on veth-o, not on veth-m"]
