"""Pinger (the daemon's ping nodes) in a namespace pair: real ICMP echo through a veth.

The Pinger runs in a subprocess inside the node namespace (like netns.py's link peer) and prints
each reachability report as a JSON line; the test reads them while it pulls the cable.
(Not named test_pinger.py: tests/unit has one, and test modules need unique basenames.)
"""

from __future__ import annotations

import json
import subprocess

import pytest
import trio
from netns import PYTHON

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

    def __init__(self, lab, ns, ping_nodes):
        self.lab, self.ns, self.ping_nodes = lab, ns, ping_nodes
        self.values: list[bool] = []
        self._buffer = b""

    async def start(self):
        self.process = await trio.lowlevel.open_process(
            ["ip", "netns", "exec", self.ns, PYTHON, "-c", PINGER, json.dumps(self.ping_nodes)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        self.lab.processes.append(self.process)
        return self

    async def next(self) -> bool:
        """The next report (callers bound the wait with fail_after)."""
        while b"\n" not in self._buffer:
            chunk = await self.process.stdout.receive_some(4096)
            assert chunk, f"pinger in {self.ns} exited ({self.values})"
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        self.values.append(json.loads(line)["reachable"])
        return self.values[-1]

    async def until(self, value: bool) -> None:
        while await self.next() is not value:
            pass


def pair(lab):
    prime, calc = lab.netns("p"), lab.netns("c")
    eth = lab.ifname("e")
    lab.veth((prime, eth, f"{PRIME}/24"), (calc, eth, f"{CALC}/24"))
    return prime, calc, eth


async def test_pinger_follows_the_cable(lab):
    with trio.fail_after(GUARD):
        prime, _calc, eth = pair(lab)
        reports = await Reports(lab, prime, [[CALC]]).start()
        await reports.until(True)
        subprocess.run(["ip", "-n", prime, "link", "set", eth, "down"], check=True, timeout=30)
        await reports.until(False)
        subprocess.run(["ip", "-n", prime, "link", "set", eth, "up"], check=True, timeout=30)
        await reports.until(True)
    # Reports come on changes only: they alternate.
    assert all(a != b for a, b in zip(reports.values, reports.values[1:], strict=False))


async def test_a_ping_group_is_up_while_any_host_answers(lab):
    with trio.fail_after(GUARD):
        prime, _calc, _eth = pair(lab)
        reports = await Reports(lab, prime, [[NOBODY], [NOBODY, CALC]]).start()
        await reports.until(True)


async def test_nobody_answering_is_unreachable(lab):
    with trio.fail_after(GUARD):
        prime, _calc, _eth = pair(lab)
        reports = await Reports(lab, prime, [[NOBODY]]).start()
        assert await reports.next() is False
        # Let it ping a few deadpings more: an answer never comes, so no further report.
        with trio.move_on_after(1.5):
            await reports.next()
        assert reports.values == [False]
