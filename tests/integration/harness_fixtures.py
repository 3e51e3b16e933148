"""trio-side helpers for tests on the product harness: poll a condition, read a process's lines.

The harness itself is synchronous (it is the lab's, used by the CLI and the benchmarks);
these let a trio test wait without blocking its event loop, so its `fail_after` guard holds.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from typing import Any

import trio

from twinbeat.lab.harness import Harness


async def until(condition: Callable[[], object], interval: float = 0.02) -> None:
    """Poll `condition` until it holds; the caller's fail_after bounds it."""
    while not condition():
        await trio.sleep(interval)


class JsonLines:
    """One JSON value per line from the stdout of a process the harness started (with
    `stdout=subprocess.PIPE`), read as it comes. `items` keeps everything read so far."""

    def __init__(self, process: subprocess.Popen[bytes], what: str) -> None:
        assert process.stdout is not None
        self._stream = trio.lowlevel.FdStream(os.dup(process.stdout.fileno()))
        process.stdout.close()
        self.what = what
        self.items: list[Any] = []
        self._buffer = b""
        self._next = 0

    async def _read_more(self) -> None:
        chunk = await self._stream.receive_some(65536)
        if not chunk:
            raise AssertionError(f"{self.what} exited; last lines: {self.items[-3:]}")
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        self.items.extend(json.loads(line) for line in lines if line.strip())

    async def next(self) -> Any:
        """The next value not yet returned by `next`."""
        while self._next >= len(self.items):
            await self._read_more()
        self._next += 1
        return self.items[self._next - 1]

    async def wait_for(self, predicate: Callable[[Any], bool]) -> Any:
        """The first value (already read or still to come) that matches."""
        index = 0
        while True:
            while index < len(self.items):
                if predicate(self.items[index]):
                    return self.items[index]
                index += 1
            await self._read_more()


def python_ok(harness: Harness, netns: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run a Python program inside `netns` (`Harness.python`); fail the test if it fails."""
    result = harness.python(netns, code, timeout=30)
    if result.returncode != 0:
        raise AssertionError(f"program in {netns} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def send_udp(harness: Harness, netns: str, datagrams: list[bytes], dest: str,
             port: int = 694) -> None:
    """Send raw datagrams from inside `netns`, paced in small bursts: a few hundred at once
    overflow the receiver's socket buffer and the kernel drops the tail, which would make
    "every kind was counted" depend on the order of the list. (A program per 100 datagrams
    keeps each one's text well under the kernel's limit on one argument.)"""
    for start in range(0, len(datagrams), 100):
        chunk = [d.hex() for d in datagrams[start : start + 100]]
        python_ok(harness, netns, (
            "import socket, time\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)\n"
            f"for i, d in enumerate({chunk!r}):\n"
            f"    s.sendto(bytes.fromhex(d), ({dest!r}, {port}))\n"
            "    if i % 20 == 19:\n"
            "        time.sleep(0.01)\n"
        ))


def capture_udp(harness: Harness, netns: str, src: str, *, count: int = 1, port: int = 694,
                iface: str = "eth1") -> list[bytes]:
    """The payloads of the next `count` UDP datagrams from `src` to `port` seen on `iface` in
    `netns` (AF_PACKET: a real capture, beside the daemon's own socket, which gets them too)."""
    code = (
        "import socket, struct\n"
        "s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))\n"
        f"s.bind(({iface!r}, 0))\n"
        "s.settimeout(10)\n"
        "frames = []\n"
        f"while len(frames) < {count}:\n"
        "    ip, _ = s.recvfrom(65535)\n"
        "    ihl = (ip[0] & 15) * 4\n"
        f"    if ip[9] != 17 or socket.inet_ntoa(ip[12:16]) != {src!r}:\n"
        "        continue\n"
        "    sport, dport, length = struct.unpack('!HHH', ip[ihl:ihl + 6])\n"
        f"    if dport == {port}:\n"
        "        frames.append(ip[ihl + 8:ihl + length].hex())\n"
        "print(' '.join(frames))\n"
    )
    return [bytes.fromhex(h) for h in python_ok(harness, netns, code).stdout.split()]
