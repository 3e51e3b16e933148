"""One node's `twinbeat run` (`NodeDaemon`) and its log (`DaemonLog`); files in `files.py`.

The daemon is a process of a `Harness`, started inside the node's namespace; it is ready
when its log says `twinbeat: links open` (docs/internals.md §5). Its status is read over the
control socket, which is a file and needs no namespace.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from signal import SIGKILL
from typing import Any

from twinbeat.control.client import DaemonNotRunningError, request
from twinbeat.lab import procs
from twinbeat.lab.errors import LabError
from twinbeat.lab.files import NodeFiles
from twinbeat.lab.harness import Harness

READY_LINE = "twinbeat: links open"  # docs/internals.md §5


class DaemonLog:
    """A log file read by offset: `mark()` now, `read(mark)` what came after."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def read(self, since: int = 0) -> str:
        with contextlib.suppress(FileNotFoundError), open(self.path, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")
        return ""

    def tail(self, lines: int = 40) -> str:
        text = self.read()
        if not text:
            return f"({self.path}: empty or missing)"
        return f"--- {self.path}\n" + "\n".join(text.splitlines()[-lines:])


class NodeDaemon:
    """`twinbeat run` for one node, as a process of `harness` inside namespace `netns`."""

    def __init__(self, harness: Harness, files: NodeFiles, netns: str,
                 env: dict[str, str] | None = None) -> None:
        self.harness = harness
        self.files = files
        self.netns = netns
        self.env = env or {}  # the node's "machine": its own HA_VARRUN etc. (plan.machine_env)
        self.label = f"{files.name}-daemon"
        self.log = DaemonLog(files.daemon_log)

    @property
    def name(self) -> str:
        return self.files.name

    # -- the process -------------------------------------------------------------------

    def start(self, *, wait: bool = True, timeout: float = 15.0) -> int:
        """Start the daemon (log appended to daemon.log); with `wait`, until it is ready."""
        since = self.log.mark()
        process = self.harness.spawn(
            self.label,
            self.files.run_argv(),
            netns=self.netns,
            log=self.files.daemon_log,
            env=dict(os.environ, PYTHONUNBUFFERED="1", **self.env),
            grace=procs.DAEMON_GRACE,
        )
        if wait:
            self.wait_ready(since, timeout)
        return process.pid

    def wait_ready(self, since: int = 0, timeout: float = 15.0) -> None:
        """Until the log says `twinbeat: links open` after offset `since`."""
        deadline = time.monotonic() + timeout
        while READY_LINE not in self.log.read(since):
            if self.pid() is None:
                raise LabError(f"{self.name}'s daemon exited during start-up (see {self.log.path})")
            if time.monotonic() > deadline:
                raise LabError(
                    f"{self.name}'s daemon not ready after {timeout:.0f} s (see {self.log.path})"
                )
            time.sleep(0.01)

    def pid(self) -> int | None:
        return self.harness.pid(self.label)

    def running(self) -> bool:
        return self.pid() is not None

    def signal(self, sig: int) -> int | None:
        """Send a signal (a fault or a request: SIGTERM is a graceful stop, SIGHUP a reload)."""
        return self.harness.signal(self.label, sig)

    def kill(self, sig: int = SIGKILL, *, wait: float = 10.0) -> bool:
        """The fault "the daemon dies": signal it and wait up to `wait` s until it is gone
        (then forget it); whether it is gone. Its resources stay as they are: a SIGKILLed
        daemon leaves its VIP and apache2 running."""
        pid = self.signal(sig)
        gone = pid is None or procs.wait_gone([pid], wait)
        if gone:
            self.harness.forget(self.label)
        return gone

    def stop(self) -> int | None:
        """Stop it by the stop policy (SIGTERM, DAEMON_GRACE, SIGKILL)."""
        return self.harness.stop(self.label)

    def exit_status(self, timeout: float = 0.0) -> int | None:
        """Its exit status once it has exited (waiting up to `timeout` s), else None."""
        return self.harness.wait(self.label, timeout)

    def run_to_exit(self, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """`twinbeat run` in the foreground until it exits, output captured: for a start that
        must be refused (a second instance, a broken config)."""
        return self.harness.run(self.files.run_argv(), self.netns, timeout)

    # -- talking to it -----------------------------------------------------------------

    def twinbeat(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """`twinbeat ARGS --run-dir RUN`, run inside the node's namespace."""
        argv = [sys.executable, "-m", "twinbeat", *args, "--run-dir", str(self.files.run_dir)]
        return self.harness.run(argv, self.netns, timeout)

    def status(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """Its `twinbeat status --json`, or None when no daemon answers."""
        try:
            reply = request(str(self.files.run_dir), {"cmd": "status"}, timeout=timeout)
        except (DaemonNotRunningError, OSError, ValueError):
            return None
        status = reply.get("status")
        return status if isinstance(status, dict) else None
