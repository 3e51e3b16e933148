"""Processes: spawned (optionally inside a namespace), recorded by PID, stopped by the one policy.

**The stop policy** (`stop`), used for every process the lab or a harness stops — daemons,
socat, pollers, helpers, leftovers found in a namespace: SIGTERM; wait until it is gone, up to
its grace period; then SIGKILL and wait again. Always by PID, never by name. SIGTERM first
because a SIGTERM is what lets a process clean up: the daemon releases its resource groups
and says goodbye to its peer, socat removes its pty symlinks. The grace period bounds how long
a stuck process can hold up a teardown; SIGKILL cannot be refused. The grace is chosen when a
process is spawned (`GRACE`, or `DAEMON_GRACE` for `twinbeat run`, which stops apache2 on the
way out) and recorded with the PID, so a teardown from another process uses the same one.
Fault injection (`Harness.signal`, `NodeDaemon.kill`) is not stopping and sends what it is told.

A pid file holds `PID STARTTIME GRACE` (STARTTIME: field 22 of /proc/PID/stat), so a PID that
the kernel has since given to another process is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from twinbeat.lab import network

GRACE = 2.0  # seconds between SIGTERM and SIGKILL
DAEMON_GRACE = 10.0  # `twinbeat run` releases its groups (apache2 stop) before it exits
KILL_WAIT = 2.0  # how long a SIGKILLed process may take to disappear


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


def send(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def stop_all(targets: Iterable[tuple[int, float]]) -> list[int]:
    """The stop policy for many processes at once: (pid, grace) pairs, all SIGTERMed together,
    each SIGKILLed when its own grace has run out. Returns the PIDs that needed SIGKILL."""
    started = time.monotonic()
    pending = sorted(targets, key=lambda target: target[1])
    for pid, _grace in pending:
        send(pid, signal.SIGTERM)
    killed: list[int] = []
    for pid, grace in pending:
        if not wait_gone([pid], started + grace - time.monotonic()):
            send(pid, signal.SIGKILL)
            killed.append(pid)
    wait_gone(killed, KILL_WAIT)
    return killed


def stop(pids: Sequence[int], grace: float = GRACE) -> list[int]:
    """SIGTERM, up to `grace` seconds to go, then SIGKILL (see the module docstring)."""
    return stop_all((pid, grace) for pid in pids)


class PidTable:
    """A record of what was started: one `<label>.pid` file per process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, label: str) -> Path:
        return self.directory / f"{label}.pid"

    def record(self, label: str, pid: int, grace: float = GRACE) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        started = start_time(pid)
        self._path(label).write_text(f"{pid} {started if started is not None else 0} {grace}\n")

    def _read(self, label: str) -> tuple[int, int, float] | None:
        try:
            fields = self._path(label).read_text().split()
            return int(fields[0]), int(fields[1]), float(fields[2]) if len(fields) > 2 else GRACE
        except (OSError, ValueError, IndexError):
            return None

    def get(self, label: str) -> int | None:
        """The PID if that very process is still running, else None."""
        entry = self._read(label)
        if entry is None or start_time(entry[0]) != entry[1]:
            return None
        return entry[0]

    def grace(self, label: str) -> float:
        entry = self._read(label)
        return GRACE if entry is None else entry[2]

    def labels(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.pid"))

    def items(self) -> dict[str, int | None]:
        return {label: self.get(label) for label in self.labels()}

    def forget(self, label: str) -> None:
        self._path(label).unlink(missing_ok=True)


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
    argv: Sequence[str], netns: str | None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run a short command (optionally inside a namespace) and capture its output.

    On timeout the command is stopped by the stop policy and TimeoutExpired is raised.
    """
    fd = network.open_ns(netns) if netns is not None else None
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=(lambda: network.enter(fd)) if fd is not None else None,  # noqa: PLW1509
        )
    finally:
        if fd is not None:
            os.close(fd)
    with process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop([process.pid])
            with contextlib.suppress(subprocess.TimeoutExpired):  # a grandchild may hold a pipe
                process.communicate(timeout=KILL_WAIT)
            raise
    return subprocess.CompletedProcess(list(argv), process.returncode, out, err)
