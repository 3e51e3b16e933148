"""Script agent: a haresources `NAME[::ARG...]` run as `NAME ARGS... start|stop|status`.

Owns finding and calling the program, in heartbeat's lookup order (reference §6.2, DESIGN §7):
`<config_dir>/resource.d/NAME`, then `/etc/init.d/NAME` (the first executable file wins), then
the systemd unit `NAME.service` through `systemctl start|stop|is-active` -- the lookup is
`twinbeat.config.find_agent`, so `twinbeat check` and the daemon always agree.

Every call is an argument list (never a shell string) under `trio.fail_after(timeout)`; a
timeout is a failure and the process is killed. Output goes to temporary files rather than
pipes: a start script that leaves a daemon holding its stdout open would otherwise hang the
call until the timeout. Output is logged on `twinbeat.resources`.

Status is judged as heartbeat does: for resource.d scripts the exit code is ignored and
stdout is matched ("not running" = not held; else "running" or "OK" = held; anything else =
not held); init.d scripts use the LSB status codes (0 running, 1-3 not running); systemd
uses the exit status of `is-active`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO

import trio

from twinbeat.config.agents import find_agent
from twinbeat.config.model import ScriptResource
from twinbeat.resources.errors import AgentError

log = logging.getLogger("twinbeat.resources")

INIT_D = "/etc/init.d"
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL of a timed-out script
LSB_NOT_RUNNING = (1, 2, 3)  # dead+pidfile, dead+lockfile, not running
_NOT_RUNNING = re.compile(r"not *running", re.IGNORECASE)  # heartbeat: *[Nn][Oo][Tt] *[Rr]unning*
_RUNNING = re.compile(r"[Rr]unning|OK")


@dataclass(frozen=True, slots=True)
class Program:
    """How to call one resource: `kind` is "resource.d" | "init.d" | "systemd"."""

    kind: str
    path: str  # the script, or the unit name for systemd


def locate(config_dir: str, name: str) -> Program:
    """Heartbeat's lookup order, shared with `twinbeat check` via `config.find_agent`."""
    found = find_agent(config_dir, name, init_dir=INIT_D)
    if found is None:
        raise AgentError(f"cannot locate resource script {name} (not in "
                         f"{os.path.join(config_dir, 'resource.d')}, not in {INIT_D}, "
                         f"no {name}.service unit)")
    return Program(*found)


def held_from_output(stdout: str) -> bool:
    """heartbeat's `we_own_resource` match on a status call's stdout."""
    if _NOT_RUNNING.search(stdout):
        return False
    return bool(_RUNNING.search(stdout))


class ScriptAgent:
    """One script resource; see the module docstring."""

    def __init__(self, resource: ScriptResource, config_dir: str, timeout: float = 30.0) -> None:
        self.text = resource.text
        self.name = resource.name
        self.args = resource.args
        self.config_dir = config_dir
        self.timeout = timeout

    def program(self) -> Program:
        """Looked up on every call, as heartbeat does: a script installed later is found.

        Raises AgentError when there is no such script or unit."""
        return locate(self.config_dir, self.name)

    async def start(self) -> None:
        await self._checked("start")

    async def stop(self) -> None:
        await self._checked("stop")

    async def status(self) -> bool:
        program = self.program()
        code, stdout = await self._call(program, "status")
        if program.kind == "resource.d":
            return held_from_output(stdout)
        if program.kind == "systemd":
            return code == 0
        if code == 0:
            return True
        if code in LSB_NOT_RUNNING:
            return False
        raise AgentError(f"{self.text}: status exited {code} (LSB: unknown)")

    async def announce(self) -> None:
        """Nothing to announce for a script resource."""

    def quiet(self) -> None:
        """Nothing to silence either (GroupRunner.stop)."""

    # -- internals ---------------------------------------------------------------------

    async def _checked(self, action: str) -> None:
        code, _ = await self._call(self.program(), action)
        if code != 0:
            raise AgentError(f"{self.text}: {action} exited {code}")

    def _argv(self, program: Program, action: str) -> list[str]:
        if program.kind == "systemd":
            systemctl = shutil.which("systemctl")
            if systemctl is None:
                raise AgentError(f"{self.text}: unit {program.path} but no systemctl")
            verb = "is-active" if action == "status" else action
            return [systemctl, verb, program.path]
        return [program.path, *self.args, action]

    async def _call(self, program: Program, action: str) -> tuple[int, str]:
        """Run one action; return (exit code, stdout). Timeout or exec failure: AgentError.

        So is a system error around it (EMFILE or ENOSPC making the output files): the
        resource cannot be driven, which is a failure of this call, not of the daemon.
        """
        argv = self._argv(program, action)
        try:
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                code = await self._run(argv, action, out, err)
                stdout = _read(out)
                stderr = _read(err)
        except OSError as exc:
            raise AgentError(f"{self.text}: {action}: {exc.strerror or exc}") from exc
        log.debug("%s: %s -> %d", self.text, " ".join(argv), code)
        for stream, text in (("stdout", stdout), ("stderr", stderr)):
            for line in text.splitlines():
                log.info("%s %s %s: %s", self.text, action, stream, line)
        return code, stdout

    async def _run(self, argv: list[str], action: str, out: IO[bytes], err: IO[bytes]) -> int:
        try:
            with trio.fail_after(self.timeout):
                result = await trio.run_process(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=False,
                    start_new_session=True, deliver_cancel=_kill_session)
        except trio.TooSlowError:
            raise AgentError(f"{self.text}: {action} timed out after "
                             f"{self.timeout:g} s") from None
        except OSError as exc:
            raise AgentError(f"{self.text}: cannot run {argv[0]}: {exc.strerror}") from exc
        return result.returncode


async def _kill_session(process: trio.Process) -> None:
    """On timeout: SIGTERM the script's whole session (its children too), SIGKILL later.

    trio runs this shielded; a script's `sleep` child must not outlive the failed call.
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with trio.move_on_after(KILL_GRACE):
        await process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read(65536).decode(errors="replace")
