"""Group runner: one haresources line, started left to right and stopped right to left.

Owns the ordering and rollback policy of heartbeat's ResourceManager (reference §6.1-6.2):
if a start fails, the resources already started are stopped in reverse and the group is
reported failed ("Giving up resources due to failure of X"); a stop tries every resource even
after one fails, because leaving an address up is worse than a noisy log. What the core does
with the result (events, standby after failure) is the daemon's business, not this module's.

Agents raise `AgentError`, but an agent can break that promise (a bug, an interface without a
MAC, EMFILE from the system). This runner is where such an exception becomes an `AgentError`
naming the resource (`_guarded`): it is the one place that knows which resource failed and can
still roll back what the group had started, so a surprise is handled exactly like any other
failure. Only `Exception`s are converted: trio's Cancelled (a timeout or shutdown) and other
BaseExceptions pass through untouched.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import trio

from twinbeat.config.model import Group, IPaddrResource, OcfResource, Resource, ScriptResource
from twinbeat.config.ocf import agent_path, instance_name
from twinbeat.resources.errors import AgentError, RollbackFailedError
from twinbeat.resources.health import Check
from twinbeat.resources.ipaddr import IPaddrAgent
from twinbeat.resources.ocf import OcfAgent
from twinbeat.resources.script import ScriptAgent

log = logging.getLogger("twinbeat.resources")

T = TypeVar("T")


class Agent(Protocol):
    text: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def status(self) -> bool: ...
    async def announce(self) -> None: ...
    def quiet(self) -> None: ...
    async def monitor(self, timeout: float) -> Check: ...
    async def advised_timeout(self, action: str) -> float | None: ...


def make_agent(
    resource: Resource,
    config_dir: str,
    *,
    timeout: float = 30.0,
    nursery: trio.Nursery | None = None,
    garp_count: int = 10,
    garp_interval: float = 0.5,
    garp_repeat_after: float = 5.0,
) -> Agent:
    """The agent for a haresources resource: IPaddrAgent, ScriptAgent or OcfAgent, by its type.

    `timeout` bounds each script call (and an OCF action whose meta-data advises none); the
    garp settings are ha.cf's `garp_count` and `garp_interval` (an address's announcements).
    """
    match resource:
        case IPaddrResource():
            return IPaddrAgent(resource, nursery=nursery, garp_count=garp_count,
                               garp_interval=garp_interval,
                               garp_repeat_after=garp_repeat_after)
        case ScriptResource():
            return ScriptAgent(resource, config_dir, timeout=timeout)
        case OcfResource(provider=provider, agent=agent, params=params):
            return OcfAgent(resource.text, agent_path(provider, agent), provider=provider,
                            agent=agent, params=params, instance=instance_name(resource),
                            default_timeout=timeout)


# heartbeat's ResourceManager retries a failed stop (HA_STOPRETRYMAX) before it calls the
# resource stuck; fewer tries here, since a stuck stop blocks the peer from taking over.
STOP_ATTEMPTS = 3
STOP_RETRY_DELAY = 1.0


class GroupRunner:
    """Ordered start/stop/status/announce over the agents of one group."""

    def __init__(
        self, group: Group, agents: list[Agent], *, stop_retry_delay: float = STOP_RETRY_DELAY
    ) -> None:
        self.key = group.key
        self.agents = list(agents)
        self.stop_retry_delay = stop_retry_delay

    async def start(self) -> None:
        """Start left to right; on failure stop the started ones in reverse and raise."""
        started: list[Agent] = []
        for agent in self.agents:
            try:
                await self._guarded(agent, "start", agent.start)
            except AgentError as exc:
                log.critical("group %s: giving up resources due to failure of %s: %s",
                             self.key, agent.text, exc)
                stuck = [p for done in reversed(started) if (p := await self._stop_one(done))]
                if stuck:
                    raise RollbackFailedError(
                        f"start of {agent.text} failed: {exc}; rollback failed: "
                        + "; ".join(stuck)
                    ) from exc
                raise AgentError(f"start of {agent.text} failed: {exc}; rolled back") from exc
            started.append(agent)

    async def stop(self) -> None:
        """Stop right to left, every resource even if one fails; raise if any failed.

        First every resource stops announcing itself (an address's GARP bursts run for some
        15 s after a start or an announce): a node that lets a group go must not pull the
        LAN back to itself while its service stops — after a split brain or a false
        takeover the peer that keeps the group has already announced it (core announce.py).
        The address itself still goes last, in heartbeat's order: services may need it
        until they are down.
        """
        for agent in self.agents:
            try:
                agent.quiet()
            except Exception as exc:  # best effort: a stop must go on whatever quiet did
                log.warning("%s: could not stop announcing: %s: %s", agent.text,
                            type(exc).__name__, exc)
        failed: list[str] = []
        for agent in reversed(self.agents):
            problem = await self._stop_one(agent)
            if problem is not None:
                failed.append(problem)
        if failed:
            raise AgentError(f"stop of group {self.key} failed: " + "; ".join(failed))

    async def restart(self, from_resource: int) -> None:
        """Restart in place (the core's RestartGroup): stop resources `from_resource`... right
        to left, then start them left to right; the ones before stay up.

        Raises RollbackFailedError when a stop failed (the group is in an unknown state: it
        stays claimed), AgentError when a start failed and the *whole* group was then stopped
        right to left (it holds nothing here: the peer may take it), and RollbackFailedError
        when that stop failed too. The resources after the restarted ones go down with them
        because they depend on them (a service on its address, heartbeat's left-to-right).
        """
        if not 0 <= from_resource < len(self.agents):
            raise ValueError(f"group {self.key} has no resource {from_resource}")
        tail = self.agents[from_resource:]
        for agent in tail:
            with contextlib.suppress(Exception):  # as in stop(): quiet is best effort
                agent.quiet()
        stuck = [p for agent in reversed(tail) if (p := await self._stop_one(agent))]
        if stuck:
            raise RollbackFailedError(f"restart of group {self.key}: stop failed: "
                                      + "; ".join(stuck))
        for agent in tail:
            try:
                await self._guarded(agent, "start", agent.start)
            except AgentError as exc:
                log.critical("group %s: restart: start of %s failed: %s; stopping the group",
                             self.key, agent.text, exc)
                try:
                    await self.stop()
                except AgentError as stop_exc:
                    raise RollbackFailedError(f"restart: start of {agent.text} failed: {exc}; "
                                              f"then {stop_exc}") from exc
                raise AgentError(f"restart: start of {agent.text} failed: {exc}; "
                                 "group stopped") from exc

    async def _stop_one(self, agent: Agent) -> str | None:
        """Stop one resource as heartbeat does: retry, then believe its status.

        A stop that keeps failing while status says "not running" is a script that is not
        LSB-compliant (stop of a stopped service must succeed), not a stuck resource: warn and
        count it stopped. Only a resource that still runs makes the stop fail.
        """
        for attempt in range(1, STOP_ATTEMPTS + 1):
            try:
                await self._guarded(agent, "stop", agent.stop)
                return None
            except AgentError as exc:
                error = exc
                log.error("group %s: stop of %s failed (attempt %d of %d): %s",
                          self.key, agent.text, attempt, STOP_ATTEMPTS, exc)
            if attempt < STOP_ATTEMPTS:
                await trio.sleep(self.stop_retry_delay)
        try:
            still_running = await self._guarded(agent, "status", agent.status)
        except AgentError:
            still_running = True  # unknown: assume the worst, the peer must not start it
        if not still_running:
            log.warning("group %s: %s failed to stop but reports not running "
                        "(probably not LSB-compliant); counting it as stopped",
                        self.key, agent.text)
            return None
        return f"{agent.text}: {error}"

    async def running(self) -> bool:
        """True if any resource reports held (start-up probe for leftovers).

        A status that errors counts as possibly running: better to stop a leftover that
        was not there than to start a second copy of one that was.
        """
        for agent in self.agents:
            try:
                if await self._guarded(agent, "status", agent.status):
                    return True
            except AgentError as exc:
                log.warning("group %s: status of %s failed: %s", self.key, agent.text, exc)
                return True
        return False

    async def announce(self) -> None:
        """Re-announce every resource (GARP for addresses); raise if any failed."""
        failed: list[str] = []
        for agent in self.agents:
            try:
                await self._guarded(agent, "announce", agent.announce)
            except AgentError as exc:
                failed.append(f"{agent.text}: {exc}")
        if failed:
            raise AgentError(f"announce of group {self.key} failed: " + "; ".join(failed))

    async def _guarded(self, agent: Agent, op: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run one agent call; any other Exception it raises becomes an AgentError.

        The message names the resource and the exception's type, for the one log line the
        caller writes; the traceback goes to debug (it is a bug report, not an operator's
        problem to read at error level).
        """
        try:
            return await call()
        except AgentError:
            raise
        except Exception as exc:
            log.debug("group %s: %s of %s raised", self.key, op, agent.text, exc_info=True)
            raise AgentError(f"{agent.text}: {op} failed unexpectedly: "
                             f"{type(exc).__name__}: {exc}") from exc
