"""Service faults in the lab: apache2 crashes, or cannot start, on one node.

The monitoring tests, the demo and bench/service.py inject them the same way (like
`Lab.power_loss`), from the same instant:
- `crash_service`: every apache2 process in the node's namespace SIGKILLed, by PID (found
  by namespace and name, never `pkill`); its pid file stays, as after a real crash.
- `block_service`: a squatter process (tracked by the harness, so `down` stops it) holds
  port 80 in the node's namespace, so apache2's start fails to bind; `unblock_service`
  stops it. Crash apache2 first: the squatter cannot bind while apache2 listens.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from twinbeat.lab import network, procs
from twinbeat.lab.errors import LabError
from twinbeat.lab.lab import Lab

SQUATTER = (
    "import socket, time\n"
    "s = socket.socket()\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 80))\n"
    "s.listen()\n"
    "time.sleep(86400)\n"
)
LISTENING = (
    "import socket, sys\n"
    "s = socket.socket()\n"
    "s.settimeout(0.2)\n"
    "sys.exit(s.connect_ex(('127.0.0.1', 80)) != 0)\n"
)


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def apache_pids(lab: Lab, node: str) -> list[int]:
    """Every apache2 process living in the node's namespace."""
    return [pid for pid in network.pids_in(lab.netns(node)) if _comm(pid) == "apache2"]


def crash_service(lab: Lab, node: str) -> list[int]:
    """apache2 crashes on `node` (see the module docstring); the PIDs killed."""
    victims = apache_pids(lab, node)
    for pid in victims:
        procs.send(pid, signal.SIGKILL)
    procs.wait_gone(victims, procs.KILL_WAIT)
    return victims


def listening(lab: Lab, node: str) -> bool:
    """Whether something accepts connections on port 80 in the node's namespace."""
    return lab.harness.python(lab.netns(node), LISTENING, timeout=5).returncode == 0


def block_service(lab: Lab, node: str, timeout: float = 5.0) -> None:
    """apache2 cannot start on `node` until `unblock_service` (module docstring)."""
    lab.harness.spawn(f"{node}-squatter", [sys.executable, "-c", SQUATTER],
                      netns=lab.netns(node))
    deadline = time.monotonic() + timeout
    while not listening(lab, node):
        if time.monotonic() > deadline:
            raise LabError(f"the port-80 squatter on {node} did not bind (is apache2 down?)")
        time.sleep(0.05)


def unblock_service(lab: Lab, node: str) -> None:
    lab.harness.stop(f"{node}-squatter")
