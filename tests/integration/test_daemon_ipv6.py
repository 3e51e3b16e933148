"""Two real daemons holding an IPv6 VIP (`IPaddr2::fd00:...`) on a LAN of namespaces: the
client reaches it on prime; prime loses power (daemon SIGKILLed, NIC down) and calc takes
over, its unsolicited neighbour advertisement moving the client's neighbour entry before
the client sends anything; the client reaches the VIP on calc; a graceful stop removes it.

The LAN is a bridge in a namespace of its own; heartbeats go over it (`bcast eth0`, IPv4 in
198.18.0.0/15) and the VIP is in the ULA fd00::/8, all inside the test's namespaces.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import trio
from harness_fixtures import until
from test_agents_ipaddr6 import answers

from twinbeat.lab import network
from twinbeat.lab.files import NodeFiles
from twinbeat.lab.harness import Harness
from twinbeat.lab.network import Port
from twinbeat.lab.node import NodeDaemon

pytestmark = pytest.mark.root

GUARD = 90
NET6 = "fd00:65:7"
VIP = f"{NET6}::100"
V4 = {"prime": "198.18.67.1", "calc": "198.18.67.2", "client": "198.18.67.10"}
V6 = {"prime": f"{NET6}::1", "calc": f"{NET6}::2", "client": f"{NET6}::10"}


def ha_cf(files: NodeFiles) -> str:
    return "\n".join(["keepalive 100ms", "deadtime 1", "warntime 500ms", "initdead 2",
                      "bcast eth0", "node prime", "node calc", "auto_failback on",
                      "realtime off", f"logfile {files.ha_log}"]) + "\n"


@pytest.fixture
def lan(harness: Harness, tmp_path: Path) -> tuple[dict[str, str], dict[str, NodeDaemon]]:
    names = {role: harness.add_netns(role[:2]) for role in ("switch", "prime", "calc", "client")}
    harness.add_bridge(names["switch"], "br0")
    for n, role in enumerate(("prime", "calc", "client"), start=1):
        harness.veth(Port(names["switch"], f"p{n}", master="br0"),
                     Port(names[role], "eth0", f"{V4[role]}/24"))
        harness.add_address(names[role], "eth0", f"{V6[role]}/64")
    daemons = {}
    for role in ("prime", "calc"):
        files = NodeFiles(role, tmp_path / role)
        files.write_config(ha_cf=ha_cf(files), authkeys="auth 1\n1 sha256 " + "5f" * 32 + "\n",
                           haresources=f"prime IPaddr2::{VIP}/64/eth0\n")
        daemons[role] = NodeDaemon(harness, files, names[role])
    return names, daemons


def holds(ns: str) -> bool:
    return VIP in [address for address, _ in network.addresses6(ns, "eth0")]


def holder(daemon: NodeDaemon) -> str | None:
    status = daemon.status()
    return None if status is None else status["groups"][0]["holder"]


async def test_an_ipv6_vip_fails_over_and_the_client_follows(
        harness: Harness, lan: tuple[dict[str, str], dict[str, NodeDaemon]]) -> None:
    names, daemons = lan
    prime, calc = daemons["prime"], daemons["calc"]
    with trio.fail_after(GUARD):
        for daemon in (prime, calc):
            daemon.start(wait=False)
        await until(lambda: holder(prime) == "prime" and holder(calc) == "prime"
                    and holds(names["prime"]), 0.05)
        assert not holds(names["calc"])
        assert answers(harness, names["client"], VIP)
        prime_mac, calc_mac = (network.mac(names[n], "eth0") for n in ("prime", "calc"))
        assert network.neighbour(names["client"], VIP) == prime_mac

        # prime loses power: the daemon dies with the VIP configured, then its NIC goes dark
        prime.kill(signal.SIGKILL)
        harness.set_link(names["prime"], "eth0", False)
        await until(lambda: holds(names["calc"]) and holder(calc) == "calc", 0.05)
        # the advertisement moved the client's entry: the client has sent nothing since
        await until(lambda: network.neighbour(names["client"], VIP) == calc_mac, 0.05)
        assert answers(harness, names["client"], VIP)
        assert "Resource group IPaddr2::" in calc.log.read()
        assert f"added {VIP}/64 on eth0" in calc.log.read()

        calc.signal(signal.SIGTERM)  # a graceful stop releases the group: the VIP goes
        await until(lambda: calc.exit_status() is not None, 0.05)
        assert calc.exit_status() == 0
        assert not holds(names["calc"])
        assert not answers(harness, names["client"], VIP)
