"""Processes the lab starts: spawned (optionally inside a namespace), recorded and stopped by PID.

A pid file holds `PID STARTTIME` (field 22 of /proc/PID/stat), so a PID that the kernel has
since given to another process is never signalled. Nothing here stops anything by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from twinbeat.lab import network


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie is as good as gone
        return None
    return int(fields[19])


def alive(pid: int) -> bool:
    return start_time(pid) is not None


def wait_gone(pids: Sequence[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if not any(alive(pid) for pid in pids):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def terminate(pids: Sequence[int], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL whatever is still there after `timeout` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if not wait_gone(pids, timeout):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_gone(pids, 2.0)


class PidTable:
    """The lab's record of what it started: one `<label>.pid` file per process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, label: str) -> Path:
        return self.directory / f"{label}.pid"

    def record(self, label: str, pid: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        started = start_time(pid)
        self._path(label).write_text(f"{pid} {started if started is not None else 0}\n")

    def get(self, label: str) -> int | None:
        """The PID if that very process is still running, else None."""
        try:
            pid_text, started_text = self._path(label).read_text().split()
        except (OSError, ValueError):
            return None
        pid = int(pid_text)
        started = start_time(pid)
        if started is None or started != int(started_text):
            return None
        return pid

    def labels(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.pid"))

    def items(self) -> dict[str, int | None]:
        return {label: self.get(label) for label in self.labels()}

    def forget(self, label: str) -> None:
        self._path(label).unlink(missing_ok=True)

    def signal(self, label: str, sig: int) -> int | None:
        pid = self.get(label)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return pid

    def stop(self, label: str, timeout: float = 5.0) -> int | None:
        """Stop one recorded process (SIGTERM, then SIGKILL) and forget it."""
        pid = self.get(label)
        if pid is not None:
            terminate([pid], timeout)
        self.forget(label)
        return pid


def spawn(
    argv: Sequence[str],
    *,
    netns: str | None = None,
    log: Path | None = None,
    stdout: int | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` (an argument list, no shell) in its own session, optionally in a namespace.

    stdout and stderr go to `log` (appended) unless `stdout` is given (e.g. subprocess.PIPE).
    """
    fd = network.open_ns(netns) if netns is not None else None
    out = open(log, "ab") if log is not None else None  # noqa: SIM115 - closed below
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=stdout if stdout is not None else (out or subprocess.DEVNULL),
            stderr=out if out is not None else subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C on the lab's terminal is not a fault injection
            preexec_fn=(lambda: network.enter(fd)) if fd is not None else None,  # noqa: PLW1509
            env=env,
        )
    finally:
        if out is not None:
            out.close()
        if fd is not None:
            os.close(fd)


def run_in(
    argv: Sequence[str], netns: str, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run a short command inside a namespace and capture its output."""
    fd = network.open_ns(netns)
    try:
        return subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=lambda: network.enter(fd),
            check=False,
        )
    finally:
        os.close(fd)
