"""The lab's power switch: what the lab's fence devices drive (docs/lab.md, "The power switch").

A process of the lab (`python -m twinbeat.lab.switch --run-dir RUN --name NAME`) serving
`RUN/switch.sock`, mode 0600: a Unix socket is a file, so a fence agent running inside a
node's network namespace reaches it with no network at all (never the host's). Requests are
one JSON line each, `{"password", "action", "node"}`, and are carried out one at a time in
the order they arrive, as a real switch does: when both nodes fence each other at once, both
requests that got out are executed; the fence delay exists for that race (docs/fencing.md).

- `off`: the node loses power exactly as in `Lab.power_loss` (daemon SIGKILLed, NICs down,
  the serial cable cut, every process in its namespace SIGKILLed); already off is success.
- `on`: `Lab.power_on` (NICs up, cable back, the daemon started: a boot with twinbeat
  enabled); `reboot`: off, then on. `status`: the node's power; `list`: the nodes.

Every request is appended to `RUN/switch.log` as a JSON line (monotonic and wall time, who
asked, what, the result), so tests and the demo can tell who fenced whom, and when. Who
asked is the namespace of the peer process (SO_PEERCRED), named after the lab's node.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from twinbeat.lab import network
from twinbeat.lab import plan as lp
from twinbeat.lab.errors import LabError
from twinbeat.lab.fencing import POWER_OFF, POWER_ON, power_state, switch_paths
from twinbeat.lab.lab import Lab

MAX_REQUEST = 4096
CLIENT_TIMEOUT = 5.0


class Switch:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.paths = switch_paths(lab.plan.run_dir)
        self.password = self.paths.secret.read_text().strip()

    def serve(self) -> None:
        path = str(self.paths.socket)
        # pyroute2 and subprocess fork children that run Python before they exec or exit;
        # one unwinding this frame must not take the switch's socket with it.
        owner = os.getpid()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        os.chmod(path, 0o600)  # root only: a power switch is not for everyone
        listener.listen(16)
        try:
            while True:
                conn, _ = listener.accept()
                with conn:
                    self.handle(conn)
        finally:
            listener.close()
            if os.getpid() == owner:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(CLIENT_TIMEOUT)
        requester = self._requester(conn)
        started = time.monotonic()
        try:
            request = json.loads(_read_line(conn))
            reply = self.execute(request)
        except (OSError, ValueError, TypeError, AttributeError, LabError) as exc:
            request, reply = {}, {"ok": False, "error": str(exc) or type(exc).__name__}
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(reply).encode() + b"\n")
        self._log(requester, request, reply, started)

    def execute(self, request: dict[str, Any]) -> dict[str, Any]:
        if not hmac.compare_digest(str(request.get("password", "")), self.password):
            return {"ok": False, "error": "bad password"}
        action, node = request.get("action"), str(request.get("node", "")).lower()
        if action == "list":
            return {"ok": True, "nodes": list(lp.NODES)}
        if action not in ("on", "off", "reboot", "status"):
            return {"ok": False, "error": f"unknown action {action!r}"}
        if node not in lp.NODES:
            return {"ok": False, "error": f"no outlet for {node!r}"}
        if action in ("off", "reboot") and power_state(self.lab.plan.run_dir, node) == POWER_ON:
            self.lab.power_loss(node)
        if action in ("on", "reboot") and power_state(self.lab.plan.run_dir, node) == POWER_OFF:
            self.lab.power_on(node, wait=False)
        return {"ok": True, "power": power_state(self.lab.plan.run_dir, node)}

    def _requester(self, conn: socket.socket) -> str:
        """The lab node whose namespace the client runs in, else `pid N`."""
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid = struct.unpack("3i", creds)[0]
        try:
            inode = os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            return f"pid {pid}"
        for node in lp.NODES:
            with contextlib.suppress(Exception):
                if network.ns_inode(self.lab.netns(node)) == inode:
                    return node
        return f"pid {pid}"

    def _log(self, requester: str, request: dict[str, Any], reply: dict[str, Any],
             started: float) -> None:
        entry = {"t": started, "wall": time.time(), "took": time.monotonic() - started,
                 "from": requester, "action": request.get("action"),
                 "node": request.get("node"), **{k: v for k, v in reply.items() if k != "nodes"}}
        with open(self.paths.log, "a") as log:
            log.write(json.dumps(entry) + "\n")


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) <= MAX_REQUEST:
        chunk = conn.recv(MAX_REQUEST)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)  # the socket file is removed on the way out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m twinbeat.lab.switch")
    parser.add_argument("--run-dir", required=True, type=Path)
    parser.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    Switch(Lab.make(args.name, args.run_dir)).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
