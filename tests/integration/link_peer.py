"""A UdpLink running inside a namespace, for the UDP link tests.

Product code under test runs in a *subprocess* started inside the namespace by the harness
(`Harness.spawn(..., netns=...)`), exactly as the daemon runs inside a node's namespace:
switching the test process itself (setns) would leave pyroute2 queries and sockets created
later by a link's retry loop in whichever namespace the thread happens to be in; a
subprocess has one namespace for its whole life.

Run as a script (`python link_peer.py SPEC_JSON`) this module is the in-namespace side: it
runs one UdpLink, sends `payload` every `interval` seconds, and prints one JSON object per
line: {"event": "started"|"up"|"down", ...}, {"event": "rx", "data": hex} and, with
"carrier": true in the spec, {"event": "carrier", "up": bool} (links/carrier.py).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import trio
from harness_fixtures import JsonLines

from twinbeat.config.model import Bcast, Link, Mcast, Ucast
from twinbeat.lab.harness import Harness
from twinbeat.links.udp import UdpLink

HERE = os.path.abspath(__file__)


class LinkPeer:
    """This file run as a script in `netns`, seen through its output (see the docstring)."""

    def __init__(self, harness: Harness, netns: str, spec: dict[str, Any]) -> None:
        self.harness, self.netns, self.spec = harness, netns, spec
        self.events: list[dict[str, Any]] = []
        self._lines: JsonLines | None = None

    async def start(self) -> LinkPeer:
        label = f"link-{self.netns}-{len(self.harness.pids.labels())}"
        process = self.harness.spawn(
            label, [sys.executable, HERE, json.dumps(self.spec)], netns=self.netns,
            stdout=subprocess.PIPE,
        )
        self._lines = JsonLines(process, f"link peer in {self.netns}")
        self.events = self._lines.items
        await self.wait_for(lambda e: e["event"] == "started")
        return self

    def received(self) -> set[bytes]:
        return {bytes.fromhex(e["data"]) for e in self.events if e["event"] == "rx"}

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first event (past or future) matching; callers wrap in fail_after."""
        assert self._lines is not None, "not started"
        event: dict[str, Any] = await self._lines.wait_for(predicate)
        return event

    async def wait_rx(self, data: bytes) -> None:
        await self.wait_for(lambda e: e["event"] == "rx" and e["data"] == data.hex())


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
    def carrier(_name: str, up: bool) -> None:
        emit(event="carrier", up=up)

    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(
            link.run, carrier=carrier if spec.get("carrier") else None),
            lambda _name, data: emit(event="rx", data=data.hex()))
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
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    trio.run(_serve_link, json.loads(sys.argv[1]))
