"""The resource groups' side of the daemon: run what the core orders, report what happened.

Owns the group runners (one per haresources line, built from the config) and the tasks that
carry out `StartGroup`, `StopGroup`, `RestartGroup` and `Announce`, and the probe for
leftovers at start-up. (Checking the held groups is daemon/monitor.py's.)
Every outcome goes back to the core as an event through `report`; nothing is decided here
beyond turning "we do not know what runs" into the outcome that keeps the group claimed.
No exception leaves these tasks: one would end the daemon's nursery with the groups held.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

import trio

from twinbeat.config import Config, Group
from twinbeat.core import events as ev
from twinbeat.resources import AgentError, RollbackFailedError
from twinbeat.resources.group import GroupRunner, make_agent

log = logging.getLogger("twinbeat")

# Upper bound for one group start or stop, on top of each agent's own timeouts.
GROUP_OP_TIMEOUT = 300.0
LEFTOVER_PROBE_TIMEOUT = 60.0

Report = Callable[[ev.Event], Awaitable[None]]


class GroupOps:
    """The agents of every group, and the operations the core asks of them.

    A reload may redefine or remove a group that runs here (core/regroup.py): the core then
    stops it before anything else. **What was started is what is stopped**: each group's
    runner that started it (or found it running at start-up) is kept in `started` and used
    for its stop, restart and announces, whatever the configuration says by then; a start
    always uses the configuration's runner."""

    def __init__(self, runners: dict[str, GroupRunner], report: Report) -> None:
        self.runners = runners
        self.started: dict[str, GroupRunner] = {}
        self._report = report

    @classmethod
    def build(cls, config: Config, nursery: trio.Nursery, report: Report) -> GroupOps:
        """Runners for every group; agents get the nursery for their background work (the
        second GARP burst)."""
        return cls({group.key: _runner(config, group, nursery) for group in config.groups},
                   report)

    def reconfigure(self, config: Config, keep: Collection[str], nursery: trio.Nursery) -> None:
        """A reload: the groups in `keep` (same resources) keep their runner, every other
        group of `config` gets a new one; removed groups lose theirs (their stop, if any, uses
        the one that started them)."""
        self.runners = {
            group.key: self.runners[group.key] if group.key in keep and group.key in self.runners
            else _runner(config, group, nursery)
            for group in config.groups
        }

    def _running(self, key: str) -> GroupRunner:
        """The runner that started the group, else the configuration's."""
        return self.started.get(key) or self.runners[key]

    async def run(self, key: str, start: bool) -> None:
        """Start or stop one group and report the outcome, whatever happens.

        The runner turns every agent failure into AgentError (and rolls a failed start back),
        so this only maps outcomes to events. An outcome that is not known (a timeout, or a
        bug in the runner itself) claims the group like a start that was not rolled back or a
        failed stop, rather than let the peer start a second copy.
        """
        if start:
            runner = self.started[key] = self.runners[key]
            await self._attempt(key, "start", runner.start, ev.GroupStarted(key),
                                lambda why, rolled_back: ev.GroupStartFailed(key, why, rolled_back))
        else:
            runner = self._running(key)
            event = await self._attempt(key, "stop", runner.stop, ev.GroupStopped(key),
                                        lambda why, _rolled_back: ev.GroupStopFailed(key, why))
            if isinstance(event, ev.GroupStopped) and self.started.get(key) is runner:
                del self.started[key]

    async def restart(self, key: str, from_resource: int) -> None:
        """RestartGroup: the runner's restart in place (GroupRunner.restart), reported as
        GroupRestarted, or GroupRestartFailed with `rolled_back` False whenever what runs is
        not known (a stop failed, the whole thing timed out, a bug)."""
        runner = self._running(key)
        await self._attempt(key, "restart", lambda: runner.restart(from_resource),
                            ev.GroupRestarted(key),
                            lambda why, rolled_back: ev.GroupRestartFailed(key, why, rolled_back))

    async def _attempt(self, key: str, op: str, call: Callable[[], Awaitable[None]],
                       done: ev.Event, failed: Callable[[str, bool], ev.Event]) -> ev.Event:
        """Run one group operation under GROUP_OP_TIMEOUT and report its one event.

        `failed(reason, rolled_back)`: rolled back after an AgentError (the group holds
        nothing it should not), not after RollbackFailedError, a timeout or a bug.
        """
        event: ev.Event
        try:
            with trio.fail_after(GROUP_OP_TIMEOUT):
                await call()
        except RollbackFailedError as exc:
            event = failed(str(exc), False)
        except AgentError as exc:
            event = failed(str(exc), True)
        except trio.TooSlowError:
            event = failed(f"timed out after {GROUP_OP_TIMEOUT:g}s", False)
        except Exception as exc:
            log.debug("group %s: %s raised", key, op, exc_info=True)
            event = failed(f"internal error: {type(exc).__name__}: {exc}", False)
        else:
            event = done
        await self._report(event)
        return event

    async def announce(self, key: str) -> None:
        try:
            await self._running(key).announce()
        except Exception as exc:  # AgentError, or a bug in the runner: a GARP is not worth dying
            log.warning("re-announcing %s failed: %s", key, exc)

    async def probe_leftovers(self) -> tuple[str, ...]:
        """The groups that run here already (a crashed daemon's), before this one joins."""
        found: list[str] = []
        for key, runner in self.runners.items():
            try:
                with trio.fail_after(LEFTOVER_PROBE_TIMEOUT):
                    if await runner.running():
                        found.append(key)
                        self.started[key] = runner
            except Exception as exc:  # AgentError, TooSlowError, or a bug: the state is unknown
                # Unknown state counts as running: stopping an idle resource is harmless,
                # starting a second copy of a running one is not.
                log.warning("status of %s unknown at start-up (%s); treating it as running",
                            key, exc)
                found.append(key)
                self.started[key] = runner
        return tuple(found)


def _runner(config: Config, group: Group, nursery: trio.Nursery) -> GroupRunner:
    hacf = config.hacf
    return GroupRunner(group, [
        make_agent(r, config.config_dir, nursery=nursery, garp_count=hacf.garp_count,
                   garp_interval=hacf.garp_interval)
        for r in group.resources
    ])
