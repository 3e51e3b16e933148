"""Script agent: a haresources `NAME[::ARG...]` run as `NAME ARGS... start|stop|status`.

Owns finding and calling the program, in heartbeat's lookup order (reference §6.2, DESIGN §7):
`<config_dir>/resource.d/NAME`, then `/etc/init.d/NAME` (the first executable file wins), then
the systemd unit `NAME.service` through `systemctl start|stop|is-active` -- the lookup is
`twinbeat.config.find_agent`, so `twinbeat check` and the daemon always agree.

Every call is an argument list (never a shell string) under a timeout, killed by PID when
it runs over (process.py).

Status is judged as heartbeat does: for resource.d scripts the exit code is ignored and
stdout is matched ("not running" = not held; else "running" or "OK" = held; anything else =
not held); init.d scripts use the LSB status codes (0 running, 1-3 not running); systemd
uses the exit status of `is-active`.

The monitor's check (`monitor`, daemon/monitor.py) reads the same calls more finely
(health.py): resource.d as heartbeat judged status (held: OK, else NOT_RUNNING); init.d by
the LSB code (0 OK, 3 NOT_RUNNING, 1/2 "dead" and 4 "unknown" FAILED); systemd by
`is-active` (active: OK, `failed`: FAILED, else NOT_RUNNING); a script that vanished:
CANNOT_RUN.

heartbeat's classic names (`Filesystem::DEV::DIR`, `apache`), when no resource.d script of
that name exists, are found as OCF agents (config/agents.py); this agent then hands every
call to an `OcfAgent` with the parameters heartbeat's wrapper would have set (classic.py).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass

from twinbeat.config.agents import find_agent
from twinbeat.config.classic import ClassicMapping, classic_mapping
from twinbeat.config.model import ScriptResource
from twinbeat.config.ocf import OCF_ROOT
from twinbeat.resources.errors import AgentError
from twinbeat.resources.health import OK, Check, Health
from twinbeat.resources.ocf import OcfAgent
from twinbeat.resources.process import run_program

log = logging.getLogger("twinbeat.resources")

INIT_D = "/etc/init.d"
LSB_NOT_RUNNING = (1, 2, 3)  # dead+pidfile, dead+lockfile, not running
LSB_STOPPED = 3
LSB_STATUS = {1: "dead, pid file exists", 2: "dead, lock file exists", 4: "status unknown"}
_NOT_RUNNING = re.compile(r"not *running", re.IGNORECASE)  # heartbeat: *[Nn][Oo][Tt] *[Rr]unning*
_RUNNING = re.compile(r"[Rr]unning|OK")


@dataclass(frozen=True, slots=True)
class Program:
    """How to call one resource: `kind` is "resource.d" | "init.d" | "systemd"."""

    kind: str  # "resource.d" | "ocf" (a classic name) | "init.d" | "systemd"
    path: str  # the script or agent, or the unit name for systemd


def locate(config_dir: str, name: str) -> Program:
    """Heartbeat's lookup order, shared with `twinbeat check` via `config.find_agent`."""
    found = find_agent(config_dir, name, init_dir=INIT_D, ocf_root=OCF_ROOT)
    if found is None:
        raise AgentError(f"cannot locate resource script {name} (not in "
                         f"{os.path.join(config_dir, 'resource.d')}, no OCF agent of "
                         f"heartbeat's, not in {INIT_D}, no {name}.service unit)")
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
        self._ocf: OcfAgent | None = None

    def program(self) -> Program:
        """Looked up on every call, as heartbeat does: a script installed later is found.

        Raises AgentError when there is no such script or unit."""
        return locate(self.config_dir, self.name)

    async def start(self) -> None:
        program = self.program()
        if program.kind == "ocf":
            return await self._classic(program).start()
        await self._checked(program, "start")

    async def stop(self) -> None:
        program = self.program()
        if program.kind == "ocf":
            return await self._classic(program).stop()
        await self._checked(program, "stop")

    async def status(self) -> bool:
        program = self.program()
        if program.kind == "ocf":
            return await self._classic(program).status()
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

    async def monitor(self, timeout: float) -> Check:
        """One check for the monitor driver (module docstring); AgentError if it timed out
        or could not run."""
        try:
            program = self.program()
        except AgentError as exc:
            return Check(Health.CANNOT_RUN, str(exc))
        if program.kind == "ocf":
            return await self._classic(program).monitor(timeout)
        code, stdout = await self._call(program, "status", timeout=timeout, quiet=True)
        said = stdout.strip().splitlines()[0][:100] if stdout.strip() else ""
        match program.kind:
            case "resource.d":
                return OK if held_from_output(stdout) else Check(
                    Health.NOT_RUNNING, f"status said {said!r}" if said else "status said nothing")
            case "systemd":
                if code == 0:
                    return OK
                health = Health.FAILED if said == "failed" else Health.NOT_RUNNING
                return Check(health, f"{program.path} is {said or 'not active'}")
        return _lsb_check(code)

    async def advised_timeout(self, action: str) -> float | None:
        """A classic name's OCF meta-data timeout for `action`; scripts give none."""
        program = self.program()
        return await self._classic(program).advised_timeout(action) \
            if program.kind == "ocf" else None

    async def announce(self) -> None:
        """Nothing to announce for a script resource."""

    def quiet(self) -> None:
        """Nothing to silence either (GroupRunner.stop)."""

    # -- internals ---------------------------------------------------------------------

    def _classic(self, program: Program) -> OcfAgent:
        """The OCF agent heartbeat's wrapper of this name would have run (classic.py)."""
        if self._ocf is None or self._ocf.path != program.path:
            mapping = classic_mapping(self.name, self.args)
            if not isinstance(mapping, ClassicMapping):
                raise AgentError(f"{self.text}: {mapping or 'not a classic name'}")
            self._ocf = OcfAgent(self.text, program.path, provider="heartbeat",
                                 agent=mapping.agent, params=mapping.params,
                                 instance=mapping.instance, default_timeout=self.timeout)
        return self._ocf

    async def _checked(self, program: Program, action: str) -> None:
        code, _ = await self._call(program, action)
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

    async def _call(self, program: Program, action: str, *, timeout: float | None = None,
                    quiet: bool = False) -> tuple[int, str]:
        """Run one action; return (exit code, stdout). Timeout or exec failure: AgentError."""
        done = await run_program(self._argv(program, action), label=self.text, action=action,
                                 timeout=self.timeout if timeout is None else timeout,
                                 quiet=quiet)
        return done.code, done.stdout


def _lsb_check(code: int) -> Check:
    """An init script's `status` exit code as a check (LSB: 0 running, 3 stopped)."""
    if code == 0:
        return OK
    if code == LSB_STOPPED:
        return Check(Health.NOT_RUNNING, "status exited 3 (LSB: not running)")
    meaning = LSB_STATUS.get(code, "unknown")
    return Check(Health.FAILED, f"status exited {code} (LSB: {meaning})")
