"""The respawn driver: run ha.cf's `respawn USER /PATH ARGS...` programs, as heartbeat did.

Owns the programs' processes: one supervising task per `respawn` line in this driver's own
nursery. Whether to restart a program that exited, and after what pause, is
core/respawn.py's `RespawnPolicy` (heartbeat's rule); this module only runs and stops.

- **How a program runs** (heartbeat's `start_a_child_client`): as USER, with USER's primary
  group and supplementary groups (initgroups), in its own session (heartbeat: its own process
  group), stdin, stdout and stderr on /dev/null, from `/`. Unlike heartbeat, which ran
  `sh -c "exec COMMAND"`, the argument list is executed directly: no shell, so ha.cf's words
  reach the program as they are. Its environment is the daemon's, without systemd's notify
  and watchdog variables (a child must not feed the daemon's watchdog), with USER's HOME,
  USER and LOGNAME. The daemon's SCHED_RESET_ON_FORK leaves it at normal priority.
- **Stopping** (a reload removes the line; the daemon shuts down, after its groups are given
  up): SIGTERM to the program's session, SIGKILL STOP_GRACE later, one program after the
  other, the last line first (heartbeat's `shutdown_last_client_child`).
- **Status**: per program its state (`running`, `waiting` to restart, `given_up`, `done`
  after exit 100, `failed` when it cannot be executed, `stopped`), PID and restart count.

No exception leaves a supervising task: a program that cannot be started is logged and
counts as an exit (code 127, like a shell's "command not found"), under the same rate limit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from twinbeat.config.model import Respawn
from twinbeat.core.respawn import PAUSE, Outcome, RespawnPolicy

log = logging.getLogger("twinbeat")

STOP_GRACE = 5.0  # s from SIGTERM to SIGKILL when a program is stopped
NOT_EXECUTED = 127
# systemd's variables for the main process only (NotifyAccess=main, the watchdog).
PRIVATE_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
               "LISTEN_FDNAMES")


@dataclass(eq=False)
class Child:
    """One `respawn` line being run."""

    spec: Respawn
    policy: RespawnPolicy
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    done: trio.Event = field(default_factory=trio.Event)
    state: str = "starting"
    pid: int | None = None
    started_at: float | None = None
    stopping: bool = False


class Respawner:
    """The `respawn` programs; `run` must be started before `start`."""

    def __init__(self, *, pause: float = PAUSE) -> None:
        self.children: list[Child] = []
        self._pause = pause
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the supervising tasks until cancelled (then every program is killed)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def start(self, specs: Sequence[Respawn]) -> None:
        """Start these programs (at start-up, or the lines a reload added)."""
        if self._nursery is None:
            raise RuntimeError("Respawner.run is not running")
        for spec in specs:
            child = Child(spec, RespawnPolicy(spec.text, pause=self._pause))
            self.children.append(child)
            self._nursery.start_soon(self._supervise, child)

    async def stop(self, specs: Sequence[Respawn] | None = None) -> None:
        """Stop these programs (None: all, at shutdown), the last line first, one at a time."""
        wanted = list(specs) if specs is not None else None
        chosen: list[Child] = []
        for child in self.children:
            if wanted is None or child.spec in wanted:
                if wanted is not None:
                    wanted.remove(child.spec)
                chosen.append(child)
        for child in reversed(chosen):
            child.stopping = True
            child.scope.cancel()
            await child.done.wait()
            self.children.remove(child)

    def reloaded(self) -> None:
        """A reload: the programs given up for respawning too fast start again."""
        for child in self.children:
            if child.policy.reloaded() and child.done.is_set() and self._nursery is not None:
                child.scope, child.done = trio.CancelScope(), trio.Event()
                log.info("respawn: %s: starting it again (reload)", child.spec.text)
                self._nursery.start_soon(self._supervise, child)

    # -- one program -----------------------------------------------------------------------

    async def _supervise(self, child: Child) -> None:
        try:
            with child.scope:
                await self._keep_running(child)
        finally:
            child.pid = None
            if child.stopping and child.state != "stopped":  # cancelled while it ran
                child.state = "stopped"
                log.info("respawn: %s: stopped", child.spec.text)
            child.done.set()

    async def _keep_running(self, child: Child) -> None:
        while True:
            child.state, child.started_at = "running", trio.current_time()
            code, sig = await self._run_once(child)
            ran_for = trio.current_time() - child.started_at
            decision = child.policy.exited(ran_for, code, sig, stopping=child.stopping)
            log.log(logging.getLevelName(decision.level.upper()), "%s", decision.message)
            if decision.outcome is not Outcome.RESTART:
                child.state = {Outcome.DONE: "done", Outcome.GIVEN_UP: "given_up"}.get(
                    decision.outcome, "stopped")
                return
            child.state = "waiting"
            await trio.sleep(decision.delay)

    async def _run_once(self, child: Child) -> tuple[int | None, int | None]:
        """Run the program to its end: (exit code, None) or (None, signal)."""
        spec = child.spec
        try:
            process = await trio.lowlevel.open_process(
                [spec.command, *spec.args], **_as_user(spec.user))
        except (OSError, KeyError, subprocess.SubprocessError) as exc:
            log.error("respawn: %s: cannot run it: %s", spec.text, exc)
            return NOT_EXECUTED, None
        child.pid = process.pid
        log.info("respawn: %s: started, pid %d", spec.text, process.pid)
        try:
            code = await process.wait()
        except BaseException:
            with trio.CancelScope(shield=True):
                await _stop_session(process)
            raise
        finally:
            child.pid = None
        return (None, -code) if code < 0 else (code, None)

    # -- status ----------------------------------------------------------------------------

    def view(self, now: float) -> list[dict[str, Any]]:
        return [
            {"program": c.spec.text, "state": c.state, "pid": c.pid,
             "respawns": c.policy.respawns,
             "since_age": None if c.started_at is None else max(0.0, now - c.started_at)}
            for c in self.children
        ]


def _as_user(user: str) -> dict[str, Any]:
    """subprocess options that run a program as `user` (KeyError: no such user)."""
    entry = pwd.getpwnam(user)
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
    env.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)
    return {
        "user": entry.pw_uid, "group": entry.pw_gid,
        "extra_groups": os.getgrouplist(user, entry.pw_gid),
        "stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL, "start_new_session": True, "cwd": "/", "env": env,
    }


async def _stop_session(process: trio.Process) -> None:
    """SIGTERM the program's session, SIGKILL it STOP_GRACE later."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with trio.move_on_after(STOP_GRACE):
        await process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
