"""The respawn driver with real programs (daemon/respawn.py; the rule is core/respawn.py).

Each program is a small shell script that records who it runs as and then sleeps or exits,
so the tests see real processes, real users, real signals. Root: the programs run as
`nobody`, as `respawn nobody ...` asks.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from twinbeat.config.model import Respawn
from twinbeat.daemon.respawn import Respawner

pytestmark = pytest.mark.root

GUARD = 30
SCRIPT = """#!/bin/sh
echo "$$ $(id -u) $(id -g) $HOME" >> {record}
{then}
"""


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A directory `nobody` can reach (pytest's own is under a mode-0700 directory)."""
    path = Path(tempfile.mkdtemp(prefix="tb-respawn-"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def program(tmp_path: Path, name: str, then: str) -> tuple[Respawn, Path]:
    """A script that appends "pid uid gid home" to its record, then runs `then`."""
    record = tmp_path / f"{name}.record"
    record.touch()
    os.chmod(record, 0o666)
    script = tmp_path / name
    script.write_text(SCRIPT.format(record=record, then=then))
    os.chmod(script, 0o755)
    return Respawn("nobody", str(script), ()), record


def runs(record: Path) -> list[list[str]]:
    return [line.split() for line in record.read_text().splitlines()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


async def until(condition, what: str) -> None:
    while not condition():
        await trio.sleep(0.02)


async def test_a_program_runs_as_its_user_and_is_restarted_when_killed(tmp_path: Path) -> None:
    spec, record = program(tmp_path, "sleeper", "exec sleep 1000")
    nobody = pwd.getpwnam("nobody")
    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            respawner = Respawner(pause=0.05)
            await nursery.start(respawner.run)
            respawner.start([spec])
            await until(lambda: len(runs(record)) == 1, "first run")
            pid, uid, gid, home = runs(record)[0]
            assert (int(uid), int(gid), home) == (nobody.pw_uid, nobody.pw_gid, nobody.pw_dir)
            assert respawner.view(trio.current_time())[0]["pid"] == int(pid)
            os.kill(int(pid), 9)
            await until(lambda: len(runs(record)) == 2, "restart")
            view = respawner.view(trio.current_time())[0]
            assert (view["state"], view["respawns"]) == ("running", 1)
            second = int(runs(record)[1][0])
            await respawner.stop()  # the daemon's shutdown
            assert not alive(second)
            assert respawner.children == []
            nursery.cancel_scope.cancel()


async def test_exit_100_is_not_restarted(tmp_path: Path) -> None:
    spec, record = program(tmp_path, "quitter", "exit 100")
    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            respawner = Respawner(pause=0.05)
            await nursery.start(respawner.run)
            respawner.start([spec])
            await until(lambda: respawner.children[0].state == "done", "done")
            await trio.sleep(0.3)
            assert len(runs(record)) == 1
            nursery.cancel_scope.cancel()


async def test_a_program_that_keeps_failing_is_given_up_then_a_reload_retries(
        tmp_path: Path) -> None:
    spec, record = program(tmp_path, "crasher", "exit 1")
    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            respawner = Respawner(pause=0.02)
            await nursery.start(respawner.run)
            respawner.start([spec])
            await until(lambda: respawner.children[0].state == "given_up", "given up")
            assert len(runs(record)) == 11  # the first run and 10 short restarts
            respawner.reloaded()
            await until(lambda: len(runs(record)) > 11, "started again by the reload")
            nursery.cancel_scope.cancel()


async def test_stopping_one_line_kills_its_whole_session(tmp_path: Path) -> None:
    spec, record = program(tmp_path, "parent", "sleep 1000 & echo $! >> {}; wait".format(
        tmp_path / "child.pid"))
    other, other_record = program(tmp_path, "other", "exec sleep 1000")
    (tmp_path / "child.pid").touch()
    os.chmod(tmp_path / "child.pid", 0o666)
    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            respawner = Respawner(pause=0.05)
            await nursery.start(respawner.run)
            respawner.start([spec, other])
            await until(lambda: (tmp_path / "child.pid").read_text().strip(), "child")
            await until(lambda: runs(other_record), "the other one")
            grandchild = int((tmp_path / "child.pid").read_text())
            await respawner.stop([spec])  # a reload removed this line
            assert not alive(grandchild)
            assert [c.spec for c in respawner.children] == [other]
            assert alive(int(runs(other_record)[0][0]))
            assert len(runs(record)) == 1
            nursery.cancel_scope.cancel()


async def test_a_missing_program_is_a_failed_run_under_the_same_limit(tmp_path: Path) -> None:
    spec = Respawn("nobody", str(tmp_path / "missing"), ())
    with trio.fail_after(GUARD):
        async with trio.open_nursery() as nursery:
            respawner = Respawner(pause=0.01)
            await nursery.start(respawner.run)
            respawner.start([spec])
            await until(lambda: respawner.children[0].state == "given_up", "given up")
            nursery.cancel_scope.cancel()
