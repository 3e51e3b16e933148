"""A lab in which one node runs Debian's heartbeat 3.0.6 and the other twinbeat (issue #14).

The lab of docs/lab.md (VIP + apache2 on the LAN, eth1 and the serial cable between the
nodes), with an md5 key both daemons know, and `Lab.heartbeat(node)` (lab/hbnode.py) in
place of one node's twinbeat daemon. Torn down like every lab, even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from lab_fixtures import unique_name

from twinbeat.lab import plan as lp
from twinbeat.lab.hbnode import HeartbeatNode, heartbeat_available
from twinbeat.lab.lab import Lab
from twinbeat.lab.node import NodeDaemon

HOLD_OFF_LINE = "speaks heartbeat 3.0.6 protocol on link"


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

    def holders(self) -> set[str]:
        """Who has the VIP on its eth0, whoever put it there."""
        return {node for node in lp.NODES if self.lab.vip_on(node)}

    def apache(self, node: str) -> str:
        return self.lab.apache(node, "status").stdout.strip()

    def serves(self, node: str) -> bool:
        """`node` alone has the VIP, runs apache2, and the client gets its page."""
        return (self.holders() == {node} and self.apache(node) == "running"
                and self.lab.get() == node)

    def logs(self) -> str:
        return f"{self.hb.log.tail(60)}\n{self.tb.log.tail(40)}"

    def tb_status(self) -> dict:
        status = self.lab.status(self.tb.name)
        assert status is not None, self.logs()
        return status


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
        if hb is not None and hb.running():
            hb.kill()
        lab.down(purge=not os.environ.get("TWINBEAT_LAB_KEEP"))
