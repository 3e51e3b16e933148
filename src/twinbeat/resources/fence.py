"""Fence devices: cluster-glue's `stonith` or a fence agent, run against a node under a timeout.

Owns how each kind of fencing line is run (docs/fencing.md has the exact commands):

- `stonith_host HOSTFROM TYPE PARAMS` → `stonith -t TYPE -F /dev/stdin -T reset|off NODE`
  with PARAMS as the one line on stdin. cluster-glue reads a `-F` file's first line exactly as
  heartbeat handed PARAMS over (`stonith_set_config_info`), and stdin keeps a password off the
  command line, where any local user could read it in /proc (`-p` would also echo it in an
  error). A line without PARAMS gets `-p ""`: an empty `-F` file is refused.
- `stonith TYPE FILE` → `stonith -t TYPE -F FILE -T reset|off NODE`.
- `fence [NODE] AGENT OPTIONS` → `AGENT` with no arguments and the fence-agents protocol on
  stdin: `action=reboot|off`, `plug=NODE` when the agent's metadata has a plug and no
  plug/port is given, then the options, a `password_file=` read (secretfile.py) and sent as
  `password=`.

The device check at start-up is `stonith ... -S` and `action=monitor`. A run succeeds only on
exit status 0: both cluster-glue (`S_OK`) and fence-agents confirm the node off or reset
before they exit 0. Every run is an argument list with a fixed environment, in its own
session; at its timeout the whole session is SIGKILLed by its PID and the run fails. Output
goes to temporary files (a child that keeps a pipe open cannot stall the run), and before
anything is logged every secret and every `stonith_host` parameter in it is masked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import tempfile
from dataclasses import dataclass
from typing import IO

import trio

from twinbeat.config.fencecheck import (
    FENCE_ENV,
    agent_parameters,
    find_fence_agent,
    find_stonith,
)
from twinbeat.config.fencing import INLINE_SECRETS, SECRET_FILE_OPTIONS, describe
from twinbeat.config.model import FenceAction, FenceAgent, FenceDevice, StonithFile, StonithHost
from twinbeat.config.secretfile import SecretFileError, read_secret

log = logging.getLogger("twinbeat.resources")

MAX_LOGGED = 4096  # bytes of a device's output kept for the log and the failure reason
# cluster-glue's return codes (stonith.h), which `stonith` exits with.
STONITH_CODES = {1: "S_BADCONFIG: bad configuration", 2: "S_ACCESS: cannot access the device",
                 3: "S_INVAL: bad argument", 4: "S_BADHOST: the device does not serve this node",
                 5: "S_RESETFAIL: the reset failed", 6: "S_TIMEOUT: the device timed out",
                 7: "S_ISOFF: the outlet is off", 8: "S_OOPS: something strange happened"}
STONITH_OPS = {FenceAction.REBOOT: "reset", FenceAction.OFF: "off"}
CHECK = "check"  # the start-up probe, in place of a FenceAction
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+: ")


class FenceError(Exception):
    """One device could not fence (or answer); `str(exc)` is one line, secrets masked."""


@dataclass(frozen=True)
class Invocation:
    """One run of a device: argv (no secrets), stdin, and what to mask in its output."""

    argv: tuple[str, ...]
    stdin: bytes
    masked: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    code: int
    output: str  # stdout then stderr, masked and bounded
    elapsed: float


class Device:
    """One fencing line of this node, resolved on this machine (see the module docstring)."""

    def __init__(self, spec: FenceDevice, program: str | None, takes_plug: bool = True) -> None:
        self.spec = spec
        self.program = program  # stonith or the agent; None when not found here
        self.takes_plug = takes_plug

    @classmethod
    def resolve(cls, spec: FenceDevice) -> Device:
        """Find the program now; for an agent, read its metadata once (does it take a plug)."""
        match spec:
            case StonithHost() | StonithFile():
                return cls(spec, find_stonith())
            case FenceAgent(agent=agent):
                program = find_fence_agent(agent)
                known = agent_parameters(program) if program is not None else None
                return cls(spec, program, known is None or bool({"plug", "port"} & known))

    @property
    def name(self) -> str:
        return f"{describe(self.spec)} (ha.cf:{self.spec.line})"

    def invocation(self, op: FenceAction | str, node: str) -> Invocation:
        """What to run to fence `node` (a FenceAction), or to check the device (CHECK)."""
        if self.program is None:
            raise FenceError(f"{self.name}: program not found on this node")
        match self.spec:
            case StonithHost(type=kind, params=params):
                source = ("-F", "/dev/stdin") if params else ("-p", "")
                argv = (self.program, "-t", kind, *source, *_stonith_op(op, node))
                return Invocation(argv, f"{params}\n".encode() if params else b"",
                                  tuple(params.split()))
            case StonithFile(type=kind, file=path):
                argv = (self.program, "-t", kind, "-F", path, *_stonith_op(op, node))
                return Invocation(argv, b"")
            case FenceAgent():
                return self._agent_invocation(self.spec, op, node)

    def _agent_invocation(self, spec: FenceAgent, op: FenceAction | str,
                          node: str) -> Invocation:
        assert self.program is not None
        action = "monitor" if op == CHECK else FenceAction(op).value
        lines = [f"action={action}"]
        keys = {key for key, _ in spec.options}
        if self.takes_plug and not keys & {"plug", "port"} and op != CHECK:
            lines.append(f"plug={node}")
        masked: list[str] = []
        for given, text in spec.options:
            key, value = given, text
            if given in SECRET_FILE_OPTIONS:
                key, value = SECRET_FILE_OPTIONS[given], self._secret(given, text)
            if key in INLINE_SECRETS:
                masked.append(value)
            lines.append(f"{key}={value}")
        return Invocation((self.program,), "".join(f"{ln}\n" for ln in lines).encode(),
                          tuple(masked))

    def _secret(self, key: str, path: str) -> str:
        try:
            return read_secret(path)
        except SecretFileError as exc:
            raise FenceError(f"{self.name}: {key}: {exc}") from None

    async def run(self, op: FenceAction | str, node: str, timeout: float) -> Outcome:
        """Fence `node` or check the device; FenceError unless the program exits 0."""
        invocation = self.invocation(op, node)
        outcome = await run_invocation(invocation, timeout, self.name)
        level = logging.DEBUG if outcome.code == 0 else logging.INFO
        for line in outcome.output.splitlines():  # masked already: no secret gets logged
            if line.strip():
                log.log(level, "%s: %s", self.name, line.rstrip())
        if outcome.code != 0:
            raise FenceError(f"{self.name}: {self._exit_reason(outcome.code)}"
                             f"{': ' + last_line(outcome.output) if outcome.output else ''}")
        return outcome

    def _exit_reason(self, code: int) -> str:
        if isinstance(self.spec, StonithHost | StonithFile) and code in STONITH_CODES:
            return f"stonith exited {code} ({STONITH_CODES[code]})"
        return f"exited {code}" if code >= 0 else f"killed by signal {-code}"


def _stonith_op(op: FenceAction | str, node: str) -> tuple[str, ...]:
    return ("-S",) if op == CHECK else ("-T", STONITH_OPS[FenceAction(op)], node)


def last_line(output: str) -> str:
    """The last non-empty line: what agents and stonith print last says why they failed
    (without the timestamp and level fence-agents put before it)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    return _LOG_PREFIX.sub("", lines[-1])[:200] if lines else ""


def mask(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret (longest first, so none leaks a part of another) as ***."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


async def run_invocation(invocation: Invocation, timeout: float, name: str) -> Outcome:
    """Run one device program under `timeout`; FenceError when it cannot run or times out."""
    started = trio.current_time()
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                with trio.fail_after(timeout):
                    done = await trio.run_process(
                        list(invocation.argv), stdin=invocation.stdin, stdout=out, stderr=err,
                        env=FENCE_ENV, check=False, start_new_session=True,
                        deliver_cancel=_kill_session)
            except trio.TooSlowError:
                raise FenceError(f"{name}: timed out after {timeout:g}s (killed)") from None
            text = _read(out) + _read(err)
    except OSError as exc:
        raise FenceError(f"{name}: cannot run {invocation.argv[0]}: "
                         f"{exc.strerror or exc}") from None
    return Outcome(done.returncode, mask(text, invocation.masked),
                   trio.current_time() - started)


async def _kill_session(process: trio.Process) -> None:
    """At the timeout: SIGKILL the program's whole session by its PID (its children too);
    a fence that has not answered in time has failed, and must not act later."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read(MAX_LOGGED).decode(errors="replace")

