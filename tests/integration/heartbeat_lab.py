"""A lab in which one node runs Debian's heartbeat 3.0.6 and the other twinbeat (issue #14).

The lab of docs/lab.md (VIP + apache2 on the LAN, eth1 and the serial cable between the
nodes), with an md5 key both daemons know, and `Lab.heartbeat(node)` (lab/hbnode.py) in
place of one node's twinbeat daemon. Torn down like every lab, even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from lab_fixtures import unique_name

from twinbeat.lab import network, procs
from twinbeat.lab import plan as lp
from twinbeat.lab.errors import LabError, wait_for
from twinbeat.lab.hbnode import HeartbeatNode, heartbeat_available
from twinbeat.lab.lab import Lab
from twinbeat.lab.node import NodeDaemon

HOLD_OFF_LINE = "speaks heartbeat 3.0.6 protocol on link"
VIP_CIDR = f"{lp.VIP}/{lp.LAN_PREFIX}"


def skip_without_heartbeat() -> None:
    why = heartbeat_available()
    if why is not None:
        pytest.skip(why)


@dataclass
class Mixed:
    """The lab, its heartbeat node (`hb`) and its twinbeat node (`tb`)."""

    lab: Lab
    hb: HeartbeatNode
    tb: NodeDaemon
    off: set[str] = field(default_factory=set)  # machines without power

    def holders(self) -> set[str]:
        """Who has the VIP on its eth0, whoever put it there (a machine without power
        serves nothing, whatever its dark NIC still carries)."""
        return {node for node in lp.NODES if node not in self.off and self.lab.vip_on(node)}

    def apache(self, node: str) -> str:
        if node in self.off:
            return "stopped"
        return self.lab.apache(node, "status").stdout.strip()

    def serves(self, node: str) -> bool:
        """`node` alone has the VIP, runs apache2, and the client gets its page."""
        return (self.holders() == {node} and self.apache(node) == "running"
                and self.apache(lp.peer_of(node)) == "stopped" and self.lab.get() == node)

    def logs(self) -> str:
        return f"{self.hb.log.tail(60)}\n{self.tb.log.tail(40)}"

    def tb_status(self) -> dict[str, Any]:
        status = self.lab.status(self.tb.name)
        assert status is not None, self.logs()
        return status

    def tb_agrees(self, holder: str) -> bool:
        """twinbeat, if it runs, says `holder` holds the group."""
        if not self.tb.running():
            return True
        status = self.lab.status(self.tb.name)
        return status is not None and status["groups"][0]["holder"] == holder

    def settled(self, holder: str, timeout: float = 40) -> None:
        """`holder` alone serves, and twinbeat (if it runs) agrees who holds the group."""
        try:
            wait_for(lambda: self.serves(holder) and self.tb_agrees(holder), timeout,
                     f"{holder} to serve, and twinbeat to agree")
        except LabError:
            print(self.logs())
            raise

    def one_holder_for(self, seconds: float, holder: str) -> None:
        """For `seconds`, the VIP on `holder` and nowhere else (polled every 50 ms)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            assert self.holders() == {holder}, self.logs()
            time.sleep(0.05)

    def daemon(self, node: str) -> HeartbeatNode | NodeDaemon:
        return self.hb if node == self.hb.name else self.tb

    def power_loss(self, node: str) -> None:
        """The machine loses power: every process in its namespace dies at once, its NICs go
        dark and the cable goes quiet (cut, not pulled: neither end sees a hang-up)."""
        victims = network.pids_in(self.lab.netns(node))
        for pid in victims:
            procs.send(pid, signal.SIGKILL)
        procs.wait_gone(victims, 5.0)
        self.lab.harness.forget(self.daemon(node).label)
        for ifname in (lp.LAN_IFACE, lp.HB_IFACE):
            self.lab.set_link(node, ifname, up=False)
        self.lab.cable.cut()
        self.off.add(node)

    def power_on(self, node: str) -> None:
        """The machine boots: the VIP it had is gone with its RAM, NICs up, cable mended,
        its daemon started."""
        if self.lab.vip_on(node):
            self.lab.harness.del_address(self.lab.netns(node), lp.LAN_IFACE, VIP_CIDR)
        for ifname in (lp.LAN_IFACE, lp.HB_IFACE):
            self.lab.set_link(node, ifname, up=True)
        self.lab.cable.mend()
        self.off.discard(node)
        self.daemon(node).start()


@contextlib.contextmanager
def mixed_lab(hb_node: str, *, auto_failback: str = "on", preset: str = "lab",
              start_twinbeat: bool = True) -> Iterator[Mixed]:
    """heartbeat 3.0.6 on `hb_node`, twinbeat on the other; heartbeat starts first."""
    skip_without_heartbeat()
    lab = Lab.make(unique_name(), preset=preset)
    hb: HeartbeatNode | None = None
    try:
        lab.up(daemons=False, auth="md5", auto_failback=auto_failback)
        hb = lab.heartbeat(hb_node)
        hb.start()
        tb = lab.node(lp.peer_of(hb_node))
        if start_twinbeat:
            tb.start()
        yield Mixed(lab, hb, tb)
    finally:
        # heartbeat first, while the cable is in: a pty closing under it makes its serial
        # reader log an EOF line in a tight loop (megabytes a second) until it exits.
        lab.cable.mend()
        if hb is not None and hb.running():
            hb.kill()
        lab.down(purge=not os.environ.get("TWINBEAT_LAB_KEEP"))
