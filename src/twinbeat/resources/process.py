"""Running a resource program: one argument list, under a timeout, killed by PID on timeout.

Owns how every agent program is run (scripts, init.d, systemctl, OCF agents), so the rules
hold in one place (DESIGN §2, §7):
- an argument list, never a shell string; stdin is /dev/null;
- its own session (`start_new_session`), so a timeout can kill the program *and* what it
  started (SIGTERM to the session, SIGKILL `KILL_GRACE` later): a hung `sleep` in a status
  script must not outlive the call;
- output into temporary files rather than pipes: a start script that leaves a daemon holding
  its stdout open would otherwise hang the call until the timeout;
- a timeout, a program that cannot be executed, or a system error around it (EMFILE,
  ENOSPC making the files) is an `AgentError` naming the resource: the resource cannot be
  driven, which is a failure of this call, not of the daemon.
Output is logged on `twinbeat.resources` (info; debug for `quiet` calls such as the monitor's
checks every few seconds, whose output would otherwise flood the log).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

import trio

from twinbeat.resources.errors import AgentError

log = logging.getLogger("twinbeat.resources")

KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL of a timed-out program
MAX_OUTPUT = 65536  # bytes of each stream kept


@dataclass(frozen=True, slots=True)
class Completed:
    """A program that ran to its end: its exit code and (the start of) its output."""

    code: int
    stdout: str
    stderr: str


async def run_program(
    argv: list[str],
    *,
    label: str,
    action: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
    quiet: bool = False,
) -> Completed:
    """Run `argv` to completion; `label` (the resource's text) and `action` name it in
    messages. Raises AgentError on timeout or when it cannot run (module docstring)."""
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            code = await _run(argv, out, err, label=label, action=action, timeout=timeout,
                              env=env)
            done = Completed(code, _read(out), _read(err))
    except OSError as exc:
        raise AgentError(f"{label}: {action}: {exc.strerror or exc}") from exc
    level = logging.DEBUG if quiet else logging.INFO
    log.debug("%s: %s -> %d", label, " ".join(argv), code)
    for stream, text in (("stdout", done.stdout), ("stderr", done.stderr)):
        for line in text.splitlines():
            log.log(level, "%s %s %s: %s", label, action, stream, line)
    return done


async def _run(argv: list[str], out: IO[bytes], err: IO[bytes], *, label: str, action: str,
               timeout: float, env: Mapping[str, str] | None) -> int:
    try:
        with trio.fail_after(timeout):
            result = await trio.run_process(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=False,
                env=env, start_new_session=True, deliver_cancel=kill_session)
    except trio.TooSlowError:
        raise AgentError(f"{label}: {action} timed out after {timeout:g} s") from None
    except OSError as exc:
        raise AgentError(f"{label}: cannot run {argv[0]}: {exc.strerror}") from exc
    return result.returncode


async def kill_session(process: trio.Process) -> None:
    """On timeout or cancellation: SIGTERM the program's whole session (its children too),
    SIGKILL `KILL_GRACE` later. trio runs this shielded, so it finishes even when the
    caller's scope was cancelled (the monitor's check timeout, a daemon shutdown)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with trio.move_on_after(KILL_GRACE):
        await process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read(MAX_OUTPUT).decode(errors="replace")
