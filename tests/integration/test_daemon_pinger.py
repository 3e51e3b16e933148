"""Pinger (the daemon's ping nodes) in a namespace pair: real ICMP echo through a veth.

The Pinger runs in a subprocess inside the node namespace (started by the harness, like
link_peer.py) and prints each reachability report as a JSON line; the test reads them while
it pulls the cable.
(Not named test_pinger.py: tests/unit has one, and test modules need unique basenames.)
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import trio
from harness_fixtures import JsonLines

from twinbeat.lab.harness import Harness
from twinbeat.lab.network import Port

pytestmark = pytest.mark.root

GUARD = 30
PRIME, CALC, NOBODY = "198.18.101.1", "198.18.101.2", "198.18.101.9"

PINGER = """
import json, sys, trio
from twinbeat.links.pinger import Pinger

def report(reachable):
    print(json.dumps({"reachable": reachable}), flush=True)

trio.run(Pinger(json.loads(sys.argv[1]), 0.1, 0.5, report).run)
"""


class Reports:
    """Reachability reports of a Pinger running in `ns`, read as they come."""

    def __init__(self, harness: Harness, ns: str, ping_nodes: list[list[str]]) -> None:
        process = harness.spawn("pinger", [sys.executable, "-c", PINGER, json.dumps(ping_nodes)],
                                netns=ns, stdout=subprocess.PIPE)
        self.lines = JsonLines(process, f"pinger in {ns}")

    @property
    def values(self) -> list[bool]:
        return [item["reachable"] for item in self.lines.items]

    async def next(self) -> bool:
        """The next report (callers bound the wait with fail_after)."""
        return bool((await self.lines.next())["reachable"])

    async def until(self, value: bool) -> None:
        while await self.next() is not value:
            pass


def pair(harness: Harness) -> tuple[str, str, str]:
    prime, calc = harness.add_netns("p"), harness.add_netns("c")
    eth = "eth0"
    harness.veth(Port(prime, eth, f"{PRIME}/24"), Port(calc, eth, f"{CALC}/24"))
    return prime, calc, eth


async def test_pinger_follows_the_cable(harness):
    with trio.fail_after(GUARD):
        prime, _calc, eth = pair(harness)
        reports = Reports(harness, prime, [[CALC]])
        await reports.until(True)
        harness.set_link(prime, eth, up=False)
        await reports.until(False)
        harness.set_link(prime, eth, up=True)
        await reports.until(True)
    # Reports come on changes only: they alternate.
    assert all(a != b for a, b in zip(reports.values, reports.values[1:], strict=False))


async def test_a_ping_group_is_up_while_any_host_answers(harness):
    with trio.fail_after(GUARD):
        prime, _calc, _eth = pair(harness)
        reports = Reports(harness, prime, [[NOBODY], [NOBODY, CALC]])
        await reports.until(True)


async def test_nobody_answering_is_unreachable(harness):
    with trio.fail_after(GUARD):
        prime, _calc, _eth = pair(harness)
        reports = Reports(harness, prime, [[NOBODY]])
        assert await reports.next() is False
        # Let it ping a few deadpings more: an answer never comes, so no further report.
        with trio.move_on_after(1.5):
            await reports.next()
        assert reports.values == [False]


# -- IPv6 ping nodes (issue #11, item 11): pinged over ICMPv6, not counted as silent ----------


async def test_an_ipv6_ping_node_is_pinged_over_icmpv6(harness):
    """`ping ::1` passed `check` but was resolved as IPv4 only: isolated forever."""
    with trio.fail_after(GUARD):
        prime, _calc, _eth = pair(harness)
        reports = Reports(harness, prime, [["::1"]])
        assert await reports.next() is True


def link_local(harness: Harness, ns: str, eth: str) -> str:
    out = harness.run(["ip", "-6", "-o", "addr", "show", "dev", eth, "scope", "link"], ns)
    return out.stdout.split()[3].split("/")[0]


async def test_an_ipv6_link_local_ping_node_follows_the_cable(harness):
    """A link-local address needs its interface (fe80::...%eth0): the scope must survive
    resolution and the matching of replies."""
    with trio.fail_after(GUARD):
        prime, calc, eth = pair(harness)
        while True:  # the kernel gives the veth its link-local address shortly after up
            try:
                target = f"{link_local(harness, calc, eth)}%{eth}"
                break
            except IndexError:
                await trio.sleep(0.1)
        reports = Reports(harness, prime, [[NOBODY], [target]])
        await reports.until(True)
        harness.set_link(prime, eth, up=False)
        await reports.until(False)
        harness.set_link(prime, eth, up=True)
        await reports.until(True)
