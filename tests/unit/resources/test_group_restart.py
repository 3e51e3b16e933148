"""GroupRunner.restart (the core's RestartGroup) and its outcome events (GroupOps.restart).

Real resource.d scripts in a tmp dir, each logging `NAME ACTION` to one file; a marker file
`fail-ACTION-NAME` makes that action fail. The order of the log is the contract: stop from
the failed resource right to left, start left to right; a failed start stops the whole
group right to left; a failed stop leaves the state unknown.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twinbeat.config.model import Group, ScriptResource
from twinbeat.core import events as ev
from twinbeat.daemon.agents import GroupOps
from twinbeat.resources import AgentError, RollbackFailedError
from twinbeat.resources.group import GroupRunner
from twinbeat.resources.script import ScriptAgent

NAMES = ("addr", "disk", "web")
SCRIPT = """#!/bin/sh
echo "{name} $1" >> {log}
[ -e {dir}/fail-$1-{name} ] && exit 1
case "$1" in
  start) touch {dir}/up-{name};;
  stop) rm -f {dir}/up-{name};;
  status) [ -e {dir}/up-{name} ] && echo running || echo stopped;;
esac
exit 0
"""


@pytest.fixture
def group(tmp_path: Path) -> tuple[GroupRunner, Path]:
    scripts = tmp_path / "ha.d" / "resource.d"
    scripts.mkdir(parents=True)
    log = tmp_path / "log"
    for name in NAMES:
        path = scripts / name
        path.write_text(SCRIPT.format(name=name, log=log, dir=tmp_path))
        path.chmod(0o755)
    resources = tuple(ScriptResource(n, (), n) for n in NAMES)
    agents = [ScriptAgent(r, str(tmp_path / "ha.d"), timeout=5.0) for r in resources]
    runner = GroupRunner(Group("addr", "prime", resources, "haresources", 1), list(agents),
                         stop_retry_delay=0.0)
    return runner, tmp_path


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "log"
    lines = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def up(tmp_path: Path) -> list[str]:
    return [n for n in NAMES if (tmp_path / f"up-{n}").exists()]


async def test_restart_from_the_failed_resource_keeps_the_ones_before(group) -> None:
    runner, d = group
    await runner.start()
    calls(d)
    await runner.restart(1)
    assert calls(d) == ["web stop", "disk stop", "disk start", "web start"]
    assert up(d) == list(NAMES)


async def test_restart_from_the_first_resource_is_the_whole_group(group) -> None:
    runner, d = group
    await runner.start()
    calls(d)
    await runner.restart(0)
    assert calls(d) == ["web stop", "disk stop", "addr stop", "addr start", "disk start",
                        "web start"]


async def test_a_failed_start_stops_the_whole_group_right_to_left(group) -> None:
    runner, d = group
    await runner.start()
    calls(d)
    (d / "fail-start-web").touch()
    with pytest.raises(AgentError, match="restart: start of web failed: web: start exited 1; "
                                         "group stopped") as caught:
        await runner.restart(1)
    assert not isinstance(caught.value, RollbackFailedError)
    assert calls(d) == ["web stop", "disk stop", "disk start", "web start",
                        "web stop", "disk stop", "addr stop"]
    assert up(d) == []


async def test_a_failed_stop_leaves_the_state_unknown(group) -> None:
    runner, d = group
    await runner.start()
    calls(d)
    (d / "fail-stop-web").touch()
    with pytest.raises(RollbackFailedError, match="restart of group addr: stop failed: web"):
        await runner.restart(2)
    # heartbeat's stop retries, then its status has the last word (still running here)
    assert calls(d) == ["web stop", "web stop", "web stop", "web status"]
    assert up(d) == list(NAMES)


async def test_a_failed_start_whose_group_stop_fails_is_not_rolled_back(group) -> None:
    runner, d = group
    await runner.start()
    (d / "fail-start-disk").touch()
    (d / "fail-stop-addr").touch()
    with pytest.raises(RollbackFailedError, match="restart: start of disk failed"):
        await runner.restart(1)
    assert up(d) == ["addr"]


async def test_no_such_resource_is_a_bug_of_the_caller(group) -> None:
    runner, _ = group
    with pytest.raises(ValueError, match="group addr has no resource 3"):
        await runner.restart(3)


@pytest.mark.parametrize(("fail", "event"), [
    ((), ev.GroupRestarted("addr")),
    (("fail-start-web",), ev.GroupRestartFailed(
        "addr", "restart: start of web failed: web: start exited 1; group stopped", True)),
    (("fail-stop-web",), ev.GroupRestartFailed(
        "addr", "restart of group addr: stop failed: web: web: stop exited 1", False)),
])
async def test_group_ops_report_the_outcome(group, fail, event) -> None:
    runner, d = group
    await runner.start()
    for marker in fail:
        (d / marker).touch()
    reported: list[ev.Event] = []

    async def report(e: ev.Event) -> None:
        reported.append(e)

    await GroupOps({"addr": runner}, report).restart("addr", 1)
    assert reported == [event]


async def test_group_ops_a_bug_is_not_rolled_back(group) -> None:
    runner, _ = group
    reported: list[ev.Event] = []

    async def report(e: ev.Event) -> None:
        reported.append(e)

    await GroupOps({"addr": runner}, report).restart("addr", 7)
    assert reported == [ev.GroupRestartFailed(
        "addr", "internal error: ValueError: group addr has no resource 7", False)]
