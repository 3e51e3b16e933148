"""The monitor driver (daemon/monitor.py) on trio's MockClock: intervals, timeouts that end
hung checks, arming and disarming by the core's orders, one report per failure, never in the
way of anything else. Stand-in agents (a check's answer is scripted, its duration simulated)
because MockClock cannot wait for a real process; the last tests use a real hanging script
and the real clock."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import trio

from twinbeat.config.model import Monitoring, ScriptResource
from twinbeat.core import events as ev
from twinbeat.daemon.monitor import BACKSTOP, Monitor, Watch
from twinbeat.resources import AgentError
from twinbeat.resources.health import Check, Health
from twinbeat.resources.script import ScriptAgent

OK = Check(Health.OK)
DOWN = Check(Health.NOT_RUNNING, "status said 'stopped'")
HANG = "hang"


class StandIn:
    """A check whose answers are scripted (the last one repeats) and whose calls are timed."""

    def __init__(self, text: str, *answers: Check | Exception | str, advice: float | None = None,
                 takes: float = 0.0) -> None:
        self.text = text
        self.answers = list(answers) or [OK]
        self.advice = advice
        self.takes = takes
        self.at: list[float] = []  # when each check began
        self.timeouts: list[float] = []
        self.cancelled = 0

    async def monitor(self, timeout: float) -> Check:
        self.at.append(trio.current_time())
        self.timeouts.append(timeout)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        try:
            await trio.sleep(self.takes)
            if answer == HANG:
                await trio.sleep_forever()
        except trio.Cancelled:
            self.cancelled += 1
            raise
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, Check)
        return answer

    async def advised_timeout(self, action: str) -> float | None:
        return self.advice


class Core:
    """Collects what the driver reports, as the daemon's inbox would."""

    def __init__(self) -> None:
        self.events: list[tuple[float, ev.Event]] = []

    async def report(self, event: ev.Event) -> None:
        self.events.append((trio.current_time(), event))


def watches(*agents: StandIn, interval: float | None = 5.0,
            timeout: float | None = None) -> list[Watch]:
    return [Watch(i, a.text, a, interval, timeout) for i, a in enumerate(agents)]  # type: ignore[arg-type]


async def started(nursery: trio.Nursery, monitor: Monitor) -> Monitor:
    await nursery.start(monitor.run)
    return monitor


async def test_checks_every_interval_from_one_interval_after_start(autojump_clock) -> None:
    core = Core()
    a, b = StandIn("IPaddr::198.18.1.100"), StandIn("apache2")
    group = [Watch(0, a.text, a, 2.0, None), Watch(1, b.text, b, 5.0, None)]  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        monitor = await started(nursery, Monitor({"g": group}, core.report))
        t0 = trio.current_time()
        monitor.start("g")
        await trio.sleep(10.5)
        assert [round(t - t0, 3) for t in a.at] == [2, 4, 6, 8, 10]
        assert [round(t - t0, 3) for t in b.at] == [5, 10]
        assert a.timeouts[0] == 20.0  # no ha.cf timeout, no advice: the default
        nursery.cancel_scope.cancel()
    assert core.events == []


async def test_a_slow_check_delays_the_next_but_never_overlaps(autojump_clock) -> None:
    core = Core()
    slow = StandIn("web", takes=3.0)
    async with trio.open_nursery() as nursery:
        monitor = await started(nursery, Monitor({"g": watches(slow, interval=2.0)},
                                                 core.report))
        t0 = trio.current_time()
        monitor.start("g")
        await trio.sleep(12)
        assert [round(t - t0, 3) for t in slow.at] == [2, 5, 8, 11]
        nursery.cancel_scope.cancel()


async def test_only_the_first_failure_is_reported_until_rearmed(autojump_clock) -> None:
    core = Core()
    addr = StandIn("IPaddr::198.18.1.100", OK)
    web = StandIn("apache2", OK, DOWN)
    async with trio.open_nursery() as nursery:
        monitor = await started(nursery, Monitor({"g": watches(addr, web)}, core.report))
        t0 = trio.current_time()
        monitor.start("g")
        await trio.sleep(27.5)
        assert [(round(t - t0, 3), e) for t, e in core.events] == [
            (10, ev.ResourceFailed("g", 1, "apache2: status said 'stopped'", cannot_run=False))]
        assert len(web.at) == 5  # checks go on (the status shows them), unreported
        monitor.start("g")  # the core restarted the group and re-arms it
        await trio.sleep(5.5)
        assert len(core.events) == 2 and core.events[1][1] == core.events[0][1]
        view = monitor.view(trio.current_time())["g"][1]
        assert view["check"] == "not-running" and view["check_detail"] == "status said 'stopped'"
        assert view["checks"] == 6 and view["check_failures"] == 5 and view["monitored"]
        assert view["check_age"] == pytest.approx(0.5)
        nursery.cancel_scope.cancel()


async def test_cannot_run_is_reported_as_such(autojump_clock) -> None:
    core = Core()
    agent = StandIn("ocf:heartbeat:apache", Check(Health.CANNOT_RUN, "monitor: "
                                                  "OCF_ERR_INSTALLED (5)"))
    async with trio.open_nursery() as nursery:
        monitor = await started(nursery, Monitor({"g": watches(agent)}, core.report))
        monitor.start("g")
        await trio.sleep(5.1)
        assert [e for _, e in core.events] == [ev.ResourceFailed(
            "g", 0, "ocf:heartbeat:apache: monitor: OCF_ERR_INSTALLED (5)", cannot_run=True)]
        nursery.cancel_scope.cancel()


async def test_a_hung_check_is_cancelled_and_reported_at_its_timeout(autojump_clock) -> None:
    core = Core()
    hung = StandIn("apache2", HANG)
    other = StandIn("IPaddr::198.18.1.100")
    async with trio.open_nursery() as nursery:
        monitor = await started(nursery, Monitor(
            {"g": watches(hung, timeout=7.0), "h": watches(other, interval=1.0)}, core.report))
        t0 = trio.current_time()
        monitor.start("g")
        monitor.start("h")
        await trio.sleep(5 + 7 + BACKSTOP + 0.5)
        assert hung.cancelled == 1
        assert [(round(t - t0, 3), e) for t, e in core.events] == [
            (5 + 7 + BACKSTOP, ev.ResourceFailed(
                "g", 0, "apache2: check hung past 7 s and was cancelled"))]
        # the other group's checks went on at their pace meanwhile
        assert len(other.at) == int(5 + 7 + BACKSTOP + 0.5)
        nursery.cancel_scope.cancel()


async def test_agent_errors_and_bugs_are_failed_checks(autojump_clock) -> None:
    core = Core()
    timed_out = StandIn("apache2", AgentError("apache2: status timed out after 20 s"))
    buggy = StandIn("web", RuntimeError("oops"))
    async with trio.open_nursery() as nursery:
        monitor = await started(nursery, Monitor({"g": watches(timed_out), "h": watches(buggy)},
                                                 core.report))
        monitor.start("g")
        monitor.start("h")
        await trio.sleep(5.1)
        assert sorted(e.reason for _, e in core.events) == [  # type: ignore[union-attr]
            "apache2: status timed out after 20 s",
            "web: check failed unexpectedly: RuntimeError: oops"]
        nursery.cancel_scope.cancel()


async def test_stop_ends_checks_and_kills_the_one_in_flight(autojump_clock) -> None:
    core = Core()
    hung = StandIn("apache2", HANG)
    async with trio.open_nursery() as nursery:
        monitor = await started(nursery, Monitor({"g": watches(hung)}, core.report))
        monitor.start("g")
        await trio.sleep(6)
        assert monitor.monitored("g")
        monitor.stop("g")
        monitor.stop("g")  # twice, or never started: nothing happens
        monitor.stop("nope")
        await trio.sleep(60)
        assert hung.cancelled == 1 and len(hung.at) == 1
        assert not monitor.monitored("g")
        assert core.events == []
        assert monitor.view(trio.current_time())["g"][0]["monitored"] is False
        nursery.cancel_scope.cancel()


async def test_start_twice_starts_afresh(autojump_clock) -> None:
    core = Core()
    agent = StandIn("apache2")
    async with trio.open_nursery() as nursery:
        monitor = await started(nursery, Monitor({"g": watches(agent)}, core.report))
        t0 = trio.current_time()
        monitor.start("g")
        await trio.sleep(4)
        monitor.start("g")
        await trio.sleep(6)
        assert [round(t - t0, 3) for t in agent.at] == [9]
        nursery.cancel_scope.cancel()


async def test_unchecked_and_uncheckable_resources(autojump_clock, caplog) -> None:
    core = Core()
    off = StandIn("web")
    nomon = StandIn("ocf:x:y", Check(Health.UNSUPPORTED, "the agent has no monitor action"))
    group = [Watch(0, off.text, off, None, None), Watch(1, nomon.text, nomon, 1.0, None)]  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        monitor = await started(nursery, Monitor({"g": group}, core.report))
        monitor.start("g")
        await trio.sleep(10)
        assert off.at == [] and len(nomon.at) == 1
        assert core.events == []
        assert "ocf:x:y: not monitored: the agent has no monitor action" in caplog.text
        views = monitor.view(trio.current_time())["g"]
        assert [v["monitored"] for v in views] == [False, False]
        assert views[0]["check"] is None and views[0]["interval"] is None
        nursery.cancel_scope.cancel()


async def test_timeout_from_ha_cf_else_the_agents_advice(autojump_clock) -> None:
    core = Core()
    told = StandIn("a", advice=60.0)
    advised = StandIn("b", advice=40.0)
    group = [Watch(0, "a", told, 1.0, 3.0), Watch(1, "b", advised, 1.0, None)]  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        monitor = await started(nursery, Monitor({"g": group}, core.report))
        monitor.start("g")
        await trio.sleep(1.5)
        assert told.timeouts == [3.0] and advised.timeouts == [40.0]
        assert [v["timeout"] for v in monitor.view(trio.current_time())["g"]] == [3.0, 40.0]
        nursery.cancel_scope.cancel()


async def test_start_before_run_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        Monitor({}, Core().report).start("g")


# -- the real thing: a status script that hangs, on the real clock --------------------------


async def test_a_real_hung_check_is_killed_by_pid_and_reported(tmp_path: Path) -> None:
    scripts = tmp_path / "ha.d" / "resource.d"
    scripts.mkdir(parents=True)
    pidfile = tmp_path / "pid"
    (scripts / "web").write_text(f"#!/bin/sh\necho $$ >> {pidfile}\nexec sleep 60\n")
    (scripts / "web").chmod(0o755)
    agent = ScriptAgent(ScriptResource("web", (), "web"), str(tmp_path / "ha.d"))
    core = Core()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            monitor = await started(nursery, Monitor(
                {"g": [Watch(0, "web", agent, 0.2, 0.5)]}, core.report))
            began = time.monotonic()
            monitor.start("g")
            while not core.events:
                await trio.sleep(0.05)
            assert time.monotonic() - began < 0.2 + 0.5 + BACKSTOP
            assert core.events[0][1] == ev.ResourceFailed(
                "g", 0, "web: status timed out after 0.5 s")
            monitor.stop("g")  # the check after it is in flight: killed too
            await trio.sleep(0.5)
            nursery.cancel_scope.cancel()
    pids = [int(line) for line in pidfile.read_text().split()]
    assert pids
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in \
            Path(f"/proc/{pid}/status").read_text()


def config_with(interval: float | None) -> object:
    """What `Monitor.for_groups` reads of a Config: ha.cf's monitoring settings."""
    return SimpleNamespace(hacf=SimpleNamespace(monitoring=Monitoring(interval=interval)))


async def test_a_reload_rechecks_a_held_group_under_its_new_interval(autojump_clock) -> None:
    """A group being monitored whose interval changed is checked afresh at the new pace;
    what its checks found so far is kept."""
    agent = StandIn("apache2")
    runners = {"g": SimpleNamespace(agents=[agent])}
    core = Core()
    async with trio.open_nursery() as nursery:
        monitor = await started(nursery, Monitor.for_groups(
            config_with(5.0), runners, core.report))  # type: ignore[arg-type]
        monitor.start("g")
        await trio.sleep(10.5)
        assert agent.at == [5.0, 10.0]
        monitor.reconfigure(config_with(5.0), runners)  # type: ignore[arg-type]
        await trio.sleep(5.0)
        assert agent.at == [5.0, 10.0, 15.0]  # unchanged settings: not re-armed
        monitor.reconfigure(config_with(2.0), runners)  # type: ignore[arg-type]
        await trio.sleep(4.1)
        assert agent.at == [5.0, 10.0, 15.0, 17.5, 19.5]
        assert monitor.view(trio.current_time())["g"][0]["checks"] == 5
        assert monitor.view(trio.current_time())["g"][0]["interval"] == 2.0
        nursery.cancel_scope.cancel()
