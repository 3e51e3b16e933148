"""Test fixture: prime and calc, two real `twinbeat run` daemons on the product harness.

A `Pair` is made of the lab's parts (docs/lab.md): two namespaces of the test's `harness`
joined by a veth named eth1 in both (198.18.100.1/24 and .2/24), optionally the null-modem
`Cable` (socat pty pair, `T/prime.tty` <-> `T/calc.tty`), and a `NodeDaemon` per node. What
is the test's own is the configuration: short timers (keepalive 100ms, deadtime 1, initdead 2)
and one resource group, `dummy`, a resource.d script that creates/removes a marker file per
node, so "who holds the group" is "whose marker exists".

Waiting is asynchronous (`until`), so a test's trio `fail_after` guard stays in charge.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio
from harness_fixtures import until

from twinbeat.lab.cable import Cable
from twinbeat.lab.files import NodeFiles
from twinbeat.lab.harness import Harness
from twinbeat.lab.network import Port
from twinbeat.lab.node import NodeDaemon

KEY_HEX = "5f" * 32
NET = "198.18.100"
ADDRESSES = {"prime": f"{NET}.1", "calc": f"{NET}.2"}
IFACE = "eth1"

DUMMY_SCRIPT = """#!/bin/sh
# resource.d/dummy for node {node}: the marker file is the "service"
case "$1" in
  start) touch {marker}; echo "start $(date +%s.%N)" >> {history} ;;
  stop) rm -f {marker}; echo "stop $(date +%s.%N)" >> {history} ;;
  status) if [ -e {marker} ]; then echo running; else echo stopped; fi ;;
  *) exit 2 ;;
esac
exit 0
"""


def ha_cf(files: NodeFiles, *, udp: bool, serial: str | None, extra: str = "") -> str:
    lines = ["keepalive 100ms", "deadtime 1", "warntime 500ms", "initdead 2", "udpport 694"]
    if udp:
        lines.append(f"bcast {IFACE}")
    if serial:
        lines += [f"serial {serial}", "baud 115200"]
    lines += ["node prime", "node calc", "auto_failback on", "realtime off",
              f"logfile {files.ha_log}"]
    return "\n".join(lines) + "\n" + extra


class DummyNode(NodeDaemon):
    """A NodeDaemon whose group is the `dummy` marker file."""

    def __init__(self, harness: Harness, name: str, netns: str, home: Path) -> None:
        super().__init__(harness, NodeFiles(name, home), netns)
        self.marker = home / "marker"
        self.history = home / "history"

    def write_config(self, *, udp: bool = True, serial: str | None = None,
                     authkeys_mode: int = 0o600, extra_hacf: str = "") -> None:
        self.files.write_config(
            ha_cf=ha_cf(self.files, udp=udp, serial=serial, extra=extra_hacf),
            authkeys=f"auth 1\n1 sha256 {KEY_HEX}\n",
            authkeys_mode=authkeys_mode,
            haresources="prime dummy\n",
            scripts={"dummy": DUMMY_SCRIPT.format(node=self.name, marker=self.marker,
                                                  history=self.history)},
        )

    def holds(self) -> bool:
        return self.marker.exists()

    def link(self, name: str) -> dict[str, Any] | None:
        status = self.status()
        return None if status is None else next(
            (link for link in status["links"] if link["name"] == name), None)

    def group(self) -> dict[str, Any] | None:
        status = self.status()
        return None if status is None else status["groups"][0]

    def status_cli(self) -> tuple[int, dict[str, Any]]:
        """`twinbeat status --json` through the CLI: (exit status, the JSON)."""
        result = self.twinbeat("status", "--json", timeout=30)
        return result.returncode, json.loads(result.stdout)

    async def wait_exit(self) -> int:
        while (code := self.exit_status()) is None:
            await trio.sleep(0.05)
        return code


class Pair:
    """prime and calc in two namespaces, eth1 between them, optionally a serial cable."""

    def __init__(self, harness: Harness, tmp: Path, *, udp: bool = True, serial: bool = True,
                 extra_hacf: str = "") -> None:
        self.harness = harness
        self.ns = {"prime": harness.add_netns("p"), "calc": harness.add_netns("c")}
        harness.veth(Port(self.ns["prime"], IFACE, f"{ADDRESSES['prime']}/24"),
                     Port(self.ns["calc"], IFACE, f"{ADDRESSES['calc']}/24"))
        self.cable: Cable | None = None
        if serial:
            self.cable = Cable(harness, (tmp / "prime.tty", tmp / "calc.tty"),
                               log=tmp / "cable.log")
            self.cable.plug()
        self.prime = DummyNode(harness, "prime", self.ns["prime"], tmp / "prime")
        self.calc = DummyNode(harness, "calc", self.ns["calc"], tmp / "calc")
        for node in self.nodes:
            node.write_config(udp=udp, serial=self.serial_link[node.name] if serial else None,
                              extra_hacf=extra_hacf)

    @property
    def nodes(self) -> tuple[DummyNode, DummyNode]:
        return (self.prime, self.calc)

    @property
    def serial_link(self) -> dict[str, str]:
        """Each node's name for the serial link (its own end's path)."""
        assert self.cable is not None
        return {node.name: str(end) for node, end in zip(self.nodes, self.cable.ends,
                                                          strict=True)}

    def set_eth1(self, up: bool) -> None:
        """Take the cable down (or up) at prime's end: the carrier drops on both ends."""
        self.harness.set_link(self.ns["prime"], IFACE, up)

    def tails(self) -> str:
        return "\n".join(node.log.tail(30) for node in self.nodes)

    async def start(self) -> None:
        """Start both daemons and wait until both are ready and the group has one holder."""
        marks = [node.log.mark() for node in self.nodes]
        for node in self.nodes:
            node.start(wait=False)
        await self.until(lambda: all("twinbeat: links open" in n.log.read(mark)
                                     for n, mark in zip(self.nodes, marks, strict=True)),
                         "both daemons open their links")
        await self.settled("prime")

    async def until(self, condition: Callable[[], object], what: str,
                    timeout: float = 15) -> None:
        """Poll `condition` until it holds; fail with both logs after `timeout` seconds."""
        with trio.move_on_after(timeout):
            await until(condition, 0.05)
            return
        statuses = "\n".join(f"--- {n.name} status\n{json.dumps(n.status())}" for n in self.nodes)
        raise AssertionError(f"timed out waiting until {what}\n{self.tails()}\n{statuses}")

    async def settled(self, holder: str) -> None:
        """Wait until `holder` alone runs the group and both daemons agree on it."""

        def agreed() -> bool:
            if {n.name for n in self.nodes if n.holds()} != {holder}:
                return False
            return all((node.group() or {}).get("holder") == holder for node in self.nodes)

        await self.until(agreed, f"{holder} alone holds the group and both agree")
