"""Test helpers: throw-away network namespaces, veth cables, and code run inside them.

Decision: product code under test runs in a *subprocess* started with `ip netns exec NS
python ...`, exactly as the daemon will run inside a node's namespace. Switching the test
process itself (setns) would leave pyroute2 queries and sockets created later by a link's
retry loop in whichever namespace the thread happens to be in; a subprocess has one
namespace for its whole life. Tests may use the `ip` command; the product never does.

Safety: names are "tbd" + a random suffix, addresses come from 198.18.64.0/18 (inside
198.18.0.0/15), namespaces get no default route, every namespace and process created here
is removed/killed by its id in a finalizer, even when the test fails.

Run as a script (`python netns.py link SPEC_JSON`) this module is the in-namespace side of
the UDP tests: it runs one UdpLink, sends `payload` every `interval` seconds, and prints one
JSON object per line: {"event": "started"|"up"|"down", ...} and {"event": "rx", "data": hex}.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from twinbeat.config.model import Bcast, Link, Mcast, Ucast
from twinbeat.links.udp import UdpLink

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
HERE = str(Path(__file__).resolve())
End = tuple[str, str, str | None]  # (namespace, interface, "A.B.C.D/N" or None)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the `ip` command (tests only)."""
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


class Lab:
    """Namespaces and veth pairs for one test; `cleanup()` removes all of them."""

    def __init__(self) -> None:
        self.tag = "tbd" + secrets.token_hex(3)  # 9 chars: room for a suffix in IFNAMSIZ
        self.namespaces: list[str] = []
        self.processes: list[trio.Process | subprocess.Popen[bytes]] = []

    def netns(self, suffix: str) -> str:
        name = f"{self.tag}{suffix}"
        ip("netns", "add", name)
        self.namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    def ifname(self, suffix: str) -> str:
        name = f"{self.tag}{suffix}"
        assert len(name) <= 15
        return name

    def veth(self, end_a: End, end_b: End) -> None:
        """A cable between two (namespace, interface, CIDR address or None) ends, up."""
        (ns_a, if_a, _), (ns_b, if_b, _) = end_a, end_b
        ip("link", "add", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b,
           "netns", ns_b)
        for ns, ifname, addr in (end_a, end_b):
            if addr:
                ip("-n", ns, "addr", "add", addr, "dev", ifname)
            ip("-n", ns, "link", "set", ifname, "up")

    def run(self, ns: str, code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a Python snippet inside `ns` with the project's interpreter; raise on failure."""
        result = subprocess.run(["ip", "netns", "exec", ns, PYTHON, "-c", code],
                                capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise AssertionError(f"snippet in {ns} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def cleanup(self) -> None:
        for proc in self.processes:
            if proc.returncode is None:
                with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                    proc.kill()
            if isinstance(proc, subprocess.Popen):
                with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
        for ns in reversed(self.namespaces):
            ip("netns", "del", ns, check=False)  # takes its veth ends (and their peers) along


class LinkPeer:
    """A UdpLink running in a namespace (this file run as a script), seen through its output."""

    def __init__(self, lab: Lab, ns: str, spec: dict[str, Any]) -> None:
        self.lab, self.ns, self.spec = lab, ns, spec
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        self.process: trio.Process | None = None

    async def start(self) -> LinkPeer:
        self.process = await trio.lowlevel.open_process(
            ["ip", "netns", "exec", self.ns, PYTHON, HERE, "link", json.dumps(self.spec)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        self.lab.processes.append(self.process)
        await self.wait_for(lambda e: e["event"] == "started")
        return self

    def received(self) -> set[bytes]:
        return {bytes.fromhex(e["data"]) for e in self.events if e["event"] == "rx"}

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Return the first event (past or future) matching; callers wrap in fail_after."""
        index = 0
        while True:
            while index < len(self.events):
                if predicate(self.events[index]):
                    return self.events[index]
                index += 1
            await self._read_more()

    async def wait_rx(self, data: bytes) -> None:
        await self.wait_for(lambda e: e["event"] == "rx" and e["data"] == data.hex())

    async def _read_more(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        chunk = await self.process.stdout.receive_some(65536)
        if not chunk:
            raise AssertionError(f"link peer in {self.ns} exited: {self.events[-3:]}")
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        self.events.extend(json.loads(line) for line in lines if line.strip())


# -- the in-namespace side --------------------------------------------------------------


def _medium(spec: dict[str, Any]) -> Any:
    kind = spec["kind"]
    if kind == "bcast":
        return Bcast(spec["iface"])
    if kind == "ucast":
        return Ucast(spec["iface"], tuple(spec["peers"]))
    return Mcast(spec["iface"], spec["group"], spec["port"], spec.get("ttl", 1),
                 spec.get("loop", False))


async def _serve_link(spec: dict[str, Any]) -> None:
    def emit(**event: Any) -> None:
        print(json.dumps(event), flush=True)

    link = UdpLink(Link(spec["iface"], spec.get("link_id", 0), _medium(spec)), spec["udpport"])
    payload = bytes.fromhex(spec["payload"])
    async with trio.open_nursery() as nursery:
        await nursery.start(link.run, lambda _name, data: emit(event="rx", data=data.hex()))
        emit(event="started", up=link.up)
        last = link.up
        while True:
            if link.up != last:
                last = link.up
                emit(event="up" if last else "down")
            if payload:
                link.send(payload)
            await trio.sleep(spec.get("interval", 0.05))


if __name__ == "__main__":
    if sys.argv[1] == "link":
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        trio.run(_serve_link, json.loads(sys.argv[2]))
