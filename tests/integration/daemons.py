"""Test helpers: two real `twinbeat run` daemons in node namespaces (see netns.py for the rules).

A `Pair` is prime and calc, each in its own namespace from the `lab` fixture, joined by a veth
cable named eth1 in both (198.18.100.1/24 and .2/24, no default route) and, optionally, a socat
pty pair (the null-modem cable) whose ends are `T/a.tty` (prime) and `T/b.tty` (calc). Each node
has its own ha.d/, state/ and run/ under the test's tmp dir and one resource group, `dummy`: a
resource.d script that creates/removes a marker file per node, so "who holds the group" is
"whose marker exists".

Every process (daemons, socat) is started by PID and appended to `lab.processes`, which the
fixture kills in its finalizer. The daemon is started with `ip netns exec NS twinbeat run`
(`ip netns exec` execs, so the PID is the daemon's and signals reach it directly). Status is read
from the control socket directly: the socket is a file, not namespaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio
from netns import ROOT, Lab

from twinbeat.control.client import DaemonNotRunningError, request

TWINBEAT = str(ROOT / ".venv" / "bin" / "twinbeat")
KEY_HEX = "5f" * 32
NET = "198.18.100"
ADDRESSES = {"prime": f"{NET}.1", "calc": f"{NET}.2"}
TTY_END = {"prime": "a.tty", "calc": "b.tty"}
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


def ha_cf(node_dir: Path, *, udp: bool, serial: str | None, extra: str = "") -> str:
    lines = [
        "keepalive 100ms",
        "deadtime 1",
        "warntime 500ms",
        "initdead 2",
        "udpport 694",
    ]
    if udp:
        lines.append(f"bcast {IFACE}")
    if serial:
        lines += [f"serial {serial}", "baud 115200"]
    lines += [
        "node prime",
        "node calc",
        "auto_failback on",
        "realtime off",
        f"logfile {node_dir / 'ha-log'}",
    ]
    return "\n".join(lines) + "\n" + extra


class NodeDaemon:
    """One node: its config tree, its namespace, and (while running) its daemon process."""

    def __init__(self, lab: Lab, name: str, ns: str, home: Path) -> None:
        self.lab, self.name, self.ns, self.home = lab, name, ns, home
        self.config_dir = home / "ha.d"
        self.state_dir = home / "state"
        self.run_dir = home / "run"
        self.log_path = home / "daemon.log"
        self.marker = home / "marker"
        self.history = home / "history"
        self.proc: subprocess.Popen[bytes] | None = None

    # -- configuration ---------------------------------------------------------------------

    def write_config(self, *, udp: bool = True, serial: str | None = None,
                     authkeys_mode: int = 0o600, extra_hacf: str = "") -> None:
        for sub in (self.config_dir / "resource.d", self.state_dir, self.run_dir):
            sub.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "ha.cf").write_text(
            ha_cf(self.home, udp=udp, serial=serial, extra=extra_hacf))
        authkeys = self.config_dir / "authkeys"
        authkeys.write_text(f"auth 1\n1 sha256 {KEY_HEX}\n")
        os.chmod(authkeys, authkeys_mode)
        (self.config_dir / "haresources").write_text("prime dummy\n")
        script = self.config_dir / "resource.d" / "dummy"
        script.write_text(DUMMY_SCRIPT.format(node=self.name, marker=self.marker,
                                              history=self.history))
        os.chmod(script, 0o755)

    # -- process ---------------------------------------------------------------------------

    def command(self, run_dir: Path | None = None) -> list[str]:
        return ["ip", "netns", "exec", self.ns, TWINBEAT, "run",
                "--config-dir", str(self.config_dir), "--node", self.name,
                "--state-dir", str(self.state_dir), "--run-dir", str(run_dir or self.run_dir),
                "--foreground"]

    def start(self) -> subprocess.Popen[bytes]:
        """Start the daemon (log appended to daemon.log); does not wait for it to be ready."""
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT)
        self.lab.processes.append(self.proc)
        return self.proc

    def run_once(self, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a daemon expected to refuse to start; returns its exit code and output."""
        return subprocess.run(self.command(), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)

    def signal(self, signum: int) -> None:
        assert self.proc is not None and self.proc.poll() is None, "daemon is not running"
        os.kill(self.proc.pid, signum)

    def kill(self) -> None:
        """SIGKILL the daemon alone (its resources stay as they are) and reap it."""
        self.signal(signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(timeout=10)

    async def wait_exit(self) -> int:
        assert self.proc is not None
        while self.proc.poll() is None:
            await trio.sleep(0.05)
        return self.proc.returncode

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- observation -----------------------------------------------------------------------

    def log(self, since: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_mark(self) -> int:
        """An offset into daemon.log: `log(mark)` is what was logged after this call."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def holds(self) -> bool:
        return self.marker.exists()

    def status(self) -> dict[str, Any] | None:
        """The status JSON from the control socket, or None when the daemon does not answer."""
        try:
            reply = request(str(self.run_dir), {"cmd": "status"}, timeout=5.0)
        except (DaemonNotRunningError, OSError, ValueError):
            return None
        return reply.get("status")

    def link(self, name: str) -> dict[str, Any] | None:
        status = self.status()
        if status is None:
            return None
        for link in status["links"]:
            if link["name"] == name:
                return link
        return None

    def group(self) -> dict[str, Any] | None:
        status = self.status()
        return None if status is None else status["groups"][0]

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`twinbeat ARGS... --run-dir RUN` inside the node's namespace, as root."""
        return subprocess.run(["ip", "netns", "exec", self.ns, TWINBEAT, *args,
                               "--run-dir", str(self.run_dir)],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def status_cli(self) -> tuple[int, dict[str, Any]]:
        result = self.cli("status", "--json", timeout=30)
        return result.returncode, json.loads(result.stdout)

    def tail(self, lines: int = 30) -> str:
        return f"--- {self.name} daemon.log\n" + "\n".join(self.log().splitlines()[-lines:])


class Cable:
    """The socat pty pair: `plug()` starts it at fixed paths, `pull()` kills it (by PID)."""

    def __init__(self, lab: Lab, directory: Path) -> None:
        self.lab = lab
        self.paths = {node: str(directory / end) for node, end in TTY_END.items()}
        self.proc: subprocess.Popen[bytes] | None = None

    def plug(self) -> None:
        self._unlink()
        self.proc = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={self.paths['prime']}",
             f"pty,raw,echo=0,link={self.paths['calc']}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.lab.processes.append(self.proc)
        deadline = time.monotonic() + 10
        while not all(os.path.exists(p) for p in self.paths.values()):
            assert time.monotonic() < deadline, "socat did not create its pty links"
            time.sleep(0.01)

    def pull(self) -> None:
        """socat gone. SIGTERM lets it remove its links; a SIGKILLed socat would leave them
        dangling, and a dangling link resolves again to whichever process (maybe another
        test's) gets that /dev/pts number next: a reopening daemon would open the wrong pty."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        self._unlink()

    def _unlink(self) -> None:
        for path in self.paths.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


class Pair:
    """prime and calc in two namespaces, eth1 between them, optionally a serial cable."""

    def __init__(self, lab: Lab, tmp: Path, *, udp: bool = True, serial: bool = True,
                 extra_hacf: str = "") -> None:
        self.lab = lab
        self.tmp = tmp
        self.ns = {"prime": lab.netns("p"), "calc": lab.netns("c")}
        lab.veth((self.ns["prime"], IFACE, f"{ADDRESSES['prime']}/24"),
                 (self.ns["calc"], IFACE, f"{ADDRESSES['calc']}/24"))
        self.cable: Cable | None = None
        if serial:
            self.cable = Cable(lab, tmp)
            self.cable.plug()
        self.prime = NodeDaemon(lab, "prime", self.ns["prime"], tmp / "prime")
        self.calc = NodeDaemon(lab, "calc", self.ns["calc"], tmp / "calc")
        for node in self.nodes:
            node.write_config(udp=udp, serial=self.cable.paths[node.name] if self.cable else None,
                              extra_hacf=extra_hacf)

    @property
    def nodes(self) -> tuple[NodeDaemon, NodeDaemon]:
        return (self.prime, self.calc)

    @property
    def serial_link(self) -> dict[str, str]:
        """Each node's name for the serial link (its own end's path)."""
        assert self.cable is not None
        return self.cable.paths

    def set_eth1(self, up: bool) -> None:
        """Take the cable down (or up) at prime's end: the carrier drops on both ends."""
        subprocess.run(["ip", "-n", self.ns["prime"], "link", "set", IFACE,
                        "up" if up else "down"], check=True, timeout=30)

    def tails(self) -> str:
        return "\n".join(node.tail() for node in self.nodes)

    async def start(self) -> None:
        """Start both daemons and wait until both are ready and the group has one holder."""
        for node in self.nodes:
            node.start()
        await self.until(lambda: all("twinbeat: links open" in n.log() for n in self.nodes),
                         "both daemons open their links")
        await self.settled("prime")

    async def until(self, condition: Callable[[], bool], what: str,
                    timeout: float = 15) -> None:
        """Poll `condition` until it holds; fail with both logs after `timeout` seconds."""
        deadline = trio.current_time() + timeout
        while not condition():
            if trio.current_time() > deadline:
                statuses = "\n".join(f"--- {n.name} status\n{json.dumps(n.status())}"
                                     for n in self.nodes)
                raise AssertionError(f"timed out waiting until {what}\n{self.tails()}\n"
                                     f"{statuses}")
            await trio.sleep(0.05)

    async def settled(self, holder: str) -> None:
        """Wait until `holder` alone runs the group and both daemons agree on it."""

        def agreed() -> bool:
            markers = {n.name for n in self.nodes if n.holds()}
            if markers != {holder}:
                return False
            for node in self.nodes:
                group = node.group()
                if group is None or group["holder"] != holder:
                    return False
            return True

        await self.until(agreed, f"{holder} alone holds the group and both agree")


async def send_udp(lab: Lab, ns: str, datagrams: list[bytes], dest: str,
                   port: int = 694) -> None:
    """Send raw datagrams from inside `ns` (a short Python snippet run there), paced in small
    bursts: a few hundred at once overflow the receiver's socket buffer and the kernel drops
    the tail, which would make "every kind was counted" depend on the order of the list."""
    code = (
        "import socket, time\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)\n"
        f"for i, d in enumerate({[d.hex() for d in datagrams]!r}):\n"
        f"    s.sendto(bytes.fromhex(d), ({dest!r}, {port}))\n"
        "    if i % 20 == 19:\n"
        "        time.sleep(0.01)\n"
    )
    await trio.to_thread.run_sync(lab.run, ns, code)


def capture_udp(lab: Lab, ns: str, src: str, port: int = 694, iface: str = IFACE) -> bytes:
    """The payload of one UDP datagram from `src` to `port` seen on `iface` in `ns` (AF_PACKET:
    a real capture, alongside the daemon's own socket, which receives the same datagram)."""
    code = (
        "import socket, struct\n"
        "s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))\n"
        f"s.bind(({iface!r}, 0))\n"
        "s.settimeout(10)\n"
        "while True:\n"
        "    ip, _ = s.recvfrom(65535)\n"
        "    ihl = (ip[0] & 15) * 4\n"
        f"    if ip[9] != 17 or socket.inet_ntoa(ip[12:16]) != {src!r}:\n"
        "        continue\n"
        "    sport, dport, length = struct.unpack('!HHH', ip[ihl:ihl + 6])\n"
        f"    if dport == {port}:\n"
        "        print(ip[ihl + 8:ihl + length].hex())\n"
        "        break\n"
    )
    return bytes.fromhex(lab.run(ns, code).stdout.strip())
