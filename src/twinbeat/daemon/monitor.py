"""The monitor driver: check the resources of the groups the core names, report failures.

The core decides what to watch and what a failure leads to (restart in place, move to the
peer, fail counts, thresholds, expiry: mon-core's policy, docs/core.md); this driver only
carries out `StartMonitoring(key)` / `StopMonitoring(key)` and turns checks into events:

- **What runs**: for each monitored group, one task per resource that has an interval
  (ha.cf `monitor_interval`, `monitor RESOURCE interval=`; `off` = never checked), all under
  one cancel scope per group, in this driver's own nursery. A check is the agent's
  `monitor()` (resources/health.py): never on the core task, so a slow or hung check can
  never hold a heartbeat back.
- **When**: the first check one interval after StartMonitoring (the group has just started;
  its service gets that long to come up), then every interval from the start of the previous
  check (keepalived's habit: deadlines, not sleeps after work); a check longer than the
  interval is followed at once by the next, never overlapped.
- **Timeouts**: each check runs under its timeout (ha.cf's, else an OCF agent's meta-data
  advice, else DEFAULT_TIMEOUT); the program is killed by PID (its whole session) when it
  runs over (resources/process.py), and a backstop a little later cancels whatever is left.
  A timeout is a failure: a service whose check hangs is not serving.
- **What is reported**: only the first failing check of a group, as
  `ResourceFailed(key, index, reason, cannot_run)` (cannot_run for Health.CANNOT_RUN),
  until the core re-arms the group with StartMonitoring (after its restart or move, the
  core sends StopMonitoring/StartMonitoring): one failure is one decision for the core, and
  a check that keeps failing while the core restarts the group must not count again.
  Checks go on after that first failure (the status shows the service's current state)
  but are not reported. StartMonitoring of a group already monitored starts it afresh;
  StopMonitoring of one that is not is a no-op. A resource whose agent cannot be checked
  (UNSUPPORTED: an OCF agent without monitor) is logged once and no longer checked.
- **What is kept** for `twinbeat status`: per resource the last check's health, detail and
  time, and how many checks ran and failed (`view`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from twinbeat.config import Config
from twinbeat.config.monitoring import DEFAULT_TIMEOUT
from twinbeat.core import events as ev
from twinbeat.resources.errors import AgentError
from twinbeat.resources.group import Agent, GroupRunner
from twinbeat.resources.health import Check, Health
from twinbeat.resources.process import KILL_GRACE

log = logging.getLogger("twinbeat")

Report = Callable[[ev.Event], Awaitable[None]]
BACKSTOP = KILL_GRACE + 1.0  # past a check's timeout: the kill had its grace, cancel the rest


@dataclass(slots=True)
class Watch:
    """One resource of one group, as this driver checks it (and what it last found)."""

    index: int
    text: str
    agent: Agent
    interval: float | None  # None: never checked
    timeout: float | None  # None: the agent's advice, else DEFAULT_TIMEOUT (`resolved`)
    resolved: float | None = None
    last: Check | None = None
    last_at: float | None = None
    checks: int = 0
    failures: int = 0
    unsupported: bool = False


@dataclass(slots=True)
class _Armed:
    """A group being monitored: its tasks' scope, and whether its failure was reported."""

    scope: trio.CancelScope
    reported: bool = False
    since: float = 0.0


@dataclass(slots=True)
class Monitor:
    """The driver; see the module docstring. `run` must be started before `start`."""

    watches: dict[str, list[Watch]]
    report: Report
    default_timeout: float = DEFAULT_TIMEOUT
    _armed: dict[str, _Armed] = field(default_factory=dict, init=False)
    _nursery: trio.Nursery | None = field(default=None, init=False)

    @classmethod
    def for_groups(cls, config: Config, runners: dict[str, GroupRunner],
                   report: Report) -> Monitor:
        """A watch per resource of every group, with ha.cf's settings for it (the agents
        are the runners' own, so both see one OCF meta-data cache)."""
        monitoring = config.hacf.monitoring
        watches = {
            key: [Watch(i, agent.text, agent, monitoring.interval_for(agent.text),
                        monitoring.timeout_for(agent.text))
                  for i, agent in enumerate(runner.agents)]
            for key, runner in runners.items()
        }
        return cls(watches, report)

    def reconfigure(self, config: Config, runners: dict[str, GroupRunner]) -> None:
        """A reload: the watches of the new configuration. A resource that stays (same group,
        place, text and agent) keeps what its checks found; a group being monitored whose
        settings changed is checked afresh under the new ones (the core stops monitoring the
        groups it stops before this is called)."""
        before = {key: [_settings(w) for w in ws] for key, ws in self.watches.items()}
        fresh = Monitor.for_groups(config, runners, self.report).watches
        changed = [key for key in self._armed
                   if [_settings(w) for w in fresh.get(key, [])] != before.get(key)]
        for key, watches in fresh.items():
            old = {(w.index, w.text, id(w.agent)): w for w in self.watches.get(key, [])}
            for i, watch in enumerate(watches):
                kept = old.get((watch.index, watch.text, id(watch.agent)))
                if kept is not None:
                    watches[i] = _carried(kept, watch)
        self.watches = fresh
        for key in changed:
            if key in fresh:
                self.start(key)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the groups' check tasks until cancelled (the daemon's nursery)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    # -- the core's orders ---------------------------------------------------------------

    def start(self, key: str) -> None:
        """StartMonitoring: check the group's resources (afresh if already monitored)."""
        if self._nursery is None:
            raise RuntimeError("Monitor.run is not running")
        self.stop(key)
        armed = _Armed(trio.CancelScope(), since=trio.current_time())
        self._armed[key] = armed
        self._nursery.start_soon(self._watch_group, key, armed)

    def stop(self, key: str) -> None:
        """StopMonitoring: no more checks of this group (one in flight is killed)."""
        armed = self._armed.pop(key, None)
        if armed is not None:
            armed.scope.cancel()

    def monitored(self, key: str) -> bool:
        return key in self._armed

    # -- checking ------------------------------------------------------------------------

    async def _watch_group(self, key: str, armed: _Armed) -> None:
        with armed.scope:
            async with trio.open_nursery() as nursery:
                for watch in self.watches.get(key, []):
                    if watch.interval is not None and not watch.unsupported:
                        nursery.start_soon(self._watch, key, watch, armed)

    async def _watch(self, key: str, watch: Watch, armed: _Armed) -> None:
        assert watch.interval is not None
        due = trio.current_time() + watch.interval
        while True:
            await trio.sleep_until(due)
            due = trio.current_time() + watch.interval
            check = await self._check(watch)
            watch.last, watch.last_at = check, trio.current_time()
            watch.checks += 1
            if check.health is Health.UNSUPPORTED:
                watch.unsupported = True
                log.warning("%s: not monitored: %s", watch.text, check.detail)
                return
            if check.failed:
                watch.failures += 1
                await self._failed(key, watch, check, armed)

    async def _failed(self, key: str, watch: Watch, check: Check, armed: _Armed) -> None:
        if armed.reported:
            log.debug("group %s: %s still failing: %s", key, watch.text, check.detail)
            return
        armed.reported = True
        cannot_run = check.health is Health.CANNOT_RUN
        log.error("group %s: resource %s failed its check: %s%s", key, watch.text,
                  check.detail or check.health.value,
                  " (this node cannot run it)" if cannot_run else "")
        await self.report(ev.ResourceFailed(key, watch.index, check.reason(watch.text),
                                            cannot_run=cannot_run))

    async def _check(self, watch: Watch) -> Check:
        """One check under its timeout; whatever goes wrong is the check's answer."""
        timeout = await self._timeout(watch)
        try:
            with trio.move_on_after(timeout + BACKSTOP):
                return await watch.agent.monitor(timeout)
            return Check(Health.FAILED, f"check hung past {timeout:g} s and was cancelled")
        except AgentError as exc:
            return Check(Health.FAILED, _without(str(exc), watch.text))
        except Exception as exc:  # a bug in an agent: a failed check, not a dead daemon
            log.debug("%s: check raised", watch.text, exc_info=True)
            return Check(Health.FAILED, f"check failed unexpectedly: {type(exc).__name__}: "
                                        f"{exc}")

    async def _timeout(self, watch: Watch) -> float:
        """ha.cf's timeout, else the agent's advice (read once), else the default."""
        if watch.timeout is not None:
            return watch.timeout
        if watch.resolved is None:
            try:
                with trio.move_on_after(self.default_timeout):
                    watch.resolved = await watch.agent.advised_timeout("monitor")
            except Exception as exc:  # a missing script, an unreadable meta-data
                log.debug("%s: no advised timeout: %s", watch.text, exc)
            watch.resolved = watch.resolved or self.default_timeout
        return watch.resolved

    # -- status --------------------------------------------------------------------------

    def view(self, now: float) -> dict[str, list[dict[str, Any]]]:
        """Per group, per resource: what the checks found (`twinbeat status`)."""
        return {key: [self._resource_view(key, w, now) for w in watches]
                for key, watches in self.watches.items()}

    def _resource_view(self, key: str, watch: Watch, now: float) -> dict[str, Any]:
        last = watch.last
        return {
            "text": watch.text,
            "monitored": self.monitored(key) and watch.interval is not None
            and not watch.unsupported,
            "interval": watch.interval,
            "timeout": watch.timeout if watch.timeout is not None else watch.resolved,
            "check": None if last is None else last.health.value,
            "check_detail": None if last is None else last.detail or None,
            "check_age": None if watch.last_at is None else max(0.0, now - watch.last_at),
            "checks": watch.checks,
            "check_failures": watch.failures,
        }


def _settings(watch: Watch) -> tuple[object, ...]:
    return (watch.index, watch.text, id(watch.agent), watch.interval, watch.timeout)


def _carried(old: Watch, new: Watch) -> Watch:
    """`new`'s settings with what `old`'s checks found (the same resource, same agent)."""
    old.interval, old.timeout = new.interval, new.timeout
    return old


def _without(message: str, text: str) -> str:
    """An AgentError's message without its `TEXT: ` prefix (the reason adds it again)."""
    prefix = f"{text}: "
    return message[len(prefix):] if message.startswith(prefix) else message
