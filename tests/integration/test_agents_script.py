"""ScriptAgent and GroupRunner with real scripts in a temporary resource.d.

Scripts append "NAME ARGS... ACTION" to a log file, so the tests see the exact calls and
their order.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from twinbeat.config.model import Group, IPaddrResource, ScriptResource
from twinbeat.resources import AgentError, RollbackFailedError, script
from twinbeat.resources.group import GroupRunner, make_agent
from twinbeat.resources.ipaddr import IPaddrAgent
from twinbeat.resources.script import ScriptAgent

GUARD = 30

# A resource.d script whose state is a file: start creates it, stop removes it.
STATEFUL = """#!/bin/sh
echo "$(basename "$0") $*" >> {log}
for last; do :; done
state={dir}/$(basename "$0").state
case "$last" in
  start) {start} ;;
  stop) {stop} ;;
  status) [ -e "$state" ] && echo "INFO: Running OK" || echo "INFO: Resource is stopped" ;;
esac
"""


def write_script(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(body)
    path.chmod(0o755)
    return path


def stateful(tmp: Path, name: str, *, start: str = 'touch "$state"',
             stop: str = 'rm -f "$state"') -> None:
    write_script(tmp / "resource.d", name,
                 STATEFUL.format(log=tmp / "log", dir=tmp, start=start, stop=stop))


def calls(tmp: Path) -> list[str]:
    return (tmp / "log").read_text().splitlines()


def agent(tmp: Path, name: str, *args: str, timeout: float = 10.0) -> ScriptAgent:
    text = "::".join((name, *args))
    return ScriptAgent(ScriptResource(name, args, text), str(tmp), timeout=timeout)


async def test_start_status_stop_with_args(tmp_path: Path) -> None:
    with trio.fail_after(GUARD):
        stateful(tmp_path, "svc")
        svc = agent(tmp_path, "svc", "one", "two")
        assert svc.program().kind == "resource.d"
        assert not await svc.status()
        await svc.start()
        assert await svc.status()
        await svc.stop()
        await svc.stop()  # stop on a stopped resource succeeds
        assert not await svc.status()
        assert calls(tmp_path) == [
            "svc one two status", "svc one two start", "svc one two status",
            "svc one two stop", "svc one two stop", "svc one two status"]


@pytest.mark.parametrize(("stdout", "code", "held"), [
    ("running", 1, True),  # exit code ignored for resource.d
    ("OK", 0, True),
    ("Resource is NOT running", 0, False),
    ("stopped", 0, False),
    ("", 0, False),
])
async def test_status_judged_by_stdout(tmp_path: Path, stdout: str, code: int, held: bool) -> None:
    with trio.fail_after(GUARD):
        write_script(tmp_path / "resource.d", "svc", f"#!/bin/sh\necho '{stdout}'\nexit {code}\n")
        assert await agent(tmp_path, "svc").status() is held


async def test_init_d_uses_lsb_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(script, "INIT_D", str(tmp_path / "init.d"))
    with trio.fail_after(GUARD):
        svc = agent(tmp_path, "svc")
        for code, held in ((0, True), (3, False)):
            write_script(tmp_path / "init.d", "svc", f"#!/bin/sh\necho running\nexit {code}\n")
            assert svc.program().kind == "init.d"
            assert await svc.status() is held
        write_script(tmp_path / "init.d", "svc", "#!/bin/sh\nexit 4\n")
        with pytest.raises(AgentError, match="status exited 4"):
            await svc.status()
        # resource.d wins over init.d
        write_script(tmp_path / "resource.d", "svc", "#!/bin/sh\necho stopped\n")
        assert svc.program().kind == "resource.d"


async def test_failure_and_timeout(tmp_path: Path) -> None:
    with trio.fail_after(GUARD):
        write_script(tmp_path / "resource.d", "bad", "#!/bin/sh\necho oops >&2\nexit 1\n")
        with pytest.raises(AgentError, match="bad: start exited 1"):
            await agent(tmp_path, "bad").start()
        marker = tmp_path / "survived"
        write_script(tmp_path / "resource.d", "slow",
                     f"#!/bin/sh\n(sleep 3; touch {marker}) &\nsleep 30\n")
        with pytest.raises(AgentError, match="timed out"):
            await agent(tmp_path, "slow", timeout=0.5).start()
        await trio.sleep(3.5)  # the background child would have touched the marker by now
        assert not marker.exists()  # the whole session was killed


async def test_missing_script_is_an_error(tmp_path: Path) -> None:
    with trio.fail_after(GUARD):
        svc = agent(tmp_path, "tbd-no-such-resource")
        for call in (svc.start, svc.stop, svc.status):
            with pytest.raises(AgentError, match="cannot locate resource script"):
                await call()


def group_of(tmp: Path, names: list[str]) -> GroupRunner:
    resources = tuple(ScriptResource(n, (), n) for n in names)
    group = Group(names[0], "node1", resources, str(tmp / "haresources"), 1)
    agents = [make_agent(r, str(tmp)) for r in resources]
    return GroupRunner(group, agents, stop_retry_delay=0.0)


async def test_group_start_rolls_back_in_reverse(tmp_path: Path) -> None:
    with trio.fail_after(GUARD):
        stateful(tmp_path, "s1")
        stateful(tmp_path, "s2")
        stateful(tmp_path, "s3", start="exit 1")
        runner = group_of(tmp_path, ["s1", "s2", "s3"])
        with pytest.raises(AgentError, match=r"start of s3 failed: .*; rolled back"):
            await runner.start()
        assert calls(tmp_path) == ["s1 start", "s2 start", "s3 start", "s2 stop", "s1 stop"]
        assert not await runner.running()


async def test_group_start_whose_rollback_fails_says_so(tmp_path: Path) -> None:
    with trio.fail_after(GUARD):
        stateful(tmp_path, "s1", stop="exit 1")  # cannot be stopped: the rollback fails
        stateful(tmp_path, "s2", start="exit 1")
        runner = group_of(tmp_path, ["s1", "s2"])
        with pytest.raises(RollbackFailedError, match=r"start of s2 failed: .*rollback failed"):
            await runner.start()
        assert await runner.running()  # s1 still runs: the core must keep the group claimed


async def test_group_stop_tries_all_in_reverse(tmp_path: Path) -> None:
    with trio.fail_after(GUARD):
        stateful(tmp_path, "s1")
        stateful(tmp_path, "s2", stop="exit 1")
        stateful(tmp_path, "s3")
        runner = group_of(tmp_path, ["s1", "s2", "s3"])
        await runner.start()
        assert await runner.running()
        with pytest.raises(AgentError, match="s2: stop exited 1"):
            await runner.stop()
        # s2 is retried, then asked for its status, which still says running.
        assert calls(tmp_path)[-6:] == ["s3 stop", "s2 stop", "s2 stop", "s2 stop", "s2 status",
                                        "s1 stop"]
        assert await runner.running()  # s2 is still held: a leftover
        await runner.announce()  # scripts have nothing to announce


async def test_group_stop_retries_a_failed_stop(tmp_path: Path) -> None:
    with trio.fail_after(GUARD):
        # The first stop fails and leaves the service running; the second one works.
        marker = tmp_path / "failed-once"
        flaky_stop = f'[ -e {marker} ] && rm -f "$state" || touch {marker}; [ ! -e "$state" ]'
        stateful(tmp_path, "s1", stop=flaky_stop)
        runner = group_of(tmp_path, ["s1"])
        await runner.start()
        await runner.stop()
        assert calls(tmp_path) == ["s1 start", "s1 stop", "s1 stop"]
        assert not await runner.running()


async def test_a_stop_that_fails_on_a_stopped_resource_counts_as_stopped(tmp_path: Path) -> None:
    """heartbeat: stop failing while status says not running = not LSB-compliant, warn."""
    with trio.fail_after(GUARD):
        stateful(tmp_path, "s1", stop='rm -f "$state"; exit 1')
        runner = group_of(tmp_path, ["s1"])
        await runner.start()
        await runner.stop()
        assert calls(tmp_path) == ["s1 start", "s1 stop", "s1 stop", "s1 stop", "s1 status"]


def test_make_agent_dispatch(tmp_path: Path) -> None:
    ip_res = IPaddrResource("IPaddr", "198.18.65.100", 24, None, None, "198.18.65.100")
    assert isinstance(make_agent(ip_res, str(tmp_path)), IPaddrAgent)
    sc = make_agent(ScriptResource("x", ("a",), "x::a"), str(tmp_path), timeout=5)
    assert isinstance(sc, ScriptAgent) and sc.timeout == 5
