"""The daemon's resource operations: whatever an agent raises, the core gets an event.

`GroupOps.run` (daemon/agents.py) runs a group's start or stop as its own task in the
daemon's one nursery; an exception escaping it would end the daemon with its groups held. An
agent raising AttributeError (a VIP on an interface without a MAC) or OSError(EMFILE) must become
GroupStartFailed / GroupStopFailed naming the resource, and the daemon carries on.
"""

from __future__ import annotations

import errno
import os

import pytest
import trio

from twinbeat.config import load
from twinbeat.config.model import Group, ScriptResource
from twinbeat.core import events as ev
from twinbeat.daemon.root import Daemon
from twinbeat.resources.group import GroupRunner

KEY = "IPaddr::198.18.1.100"


@pytest.fixture
def daemon(tmp_path) -> Daemon:
    (tmp_path / "ha.cf").write_text("bcast eth1\nnode prime\nnode calc\n")
    authkeys = tmp_path / "authkeys"
    authkeys.write_text("auth 1\n1 sha256 " + "ab" * 32 + "\n")
    os.chmod(authkeys, 0o600)
    (tmp_path / "haresources").write_text("prime 198.18.1.100\n")
    return Daemon(load(str(tmp_path), node="prime"), generation=1, run_dir=str(tmp_path / "run"))


class Broken:
    """An agent whose every operation raises `exc`."""

    def __init__(self, text: str, exc: Exception) -> None:
        self.text = text
        self.exc = exc

    async def start(self) -> None:
        raise self.exc

    async def stop(self) -> None:
        raise self.exc

    async def status(self) -> bool:
        raise self.exc

    async def announce(self) -> None:
        raise self.exc

    def quiet(self) -> None:
        raise self.exc


def install(daemon: Daemon, exc: Exception) -> None:
    group = Group(KEY, "prime", (ScriptResource(KEY, (), KEY),), "haresources", 1)
    daemon.ops.runners[KEY] = GroupRunner(group, [Broken(KEY, exc)], stop_retry_delay=0.0)


@pytest.mark.parametrize("exc", [AttributeError("'NoneType' object has no attribute 'split'"),
                                 OSError(errno.EMFILE, "Too many open files")],
                         ids=["attribute", "emfile"])
async def test_unexpected_agent_errors_become_failed_start_and_stop(daemon, exc):
    install(daemon, exc)
    with trio.fail_after(10):
        await daemon.ops.run(KEY, True)
        await daemon.ops.run(KEY, False)
        (started, _), (stopped, _) = daemon.events_in.take(10)
        await daemon.ops.announce(KEY)  # logged, not raised
        assert await daemon.ops.probe_leftovers() == (KEY,)  # unknown counts as running
    assert isinstance(started, ev.GroupStartFailed) and started.key == KEY
    assert started.rolled_back is True  # nothing else had started: nothing left half-applied
    assert KEY in started.reason and type(exc).__name__ in started.reason
    assert isinstance(stopped, ev.GroupStopFailed) and stopped.key == KEY
    assert KEY in stopped.reason


async def test_a_bug_in_the_runner_itself_keeps_the_group_claimed(daemon, monkeypatch):
    install(daemon, AttributeError("unused"))
    runner = daemon.ops.runners[KEY]

    async def broken() -> None:
        raise RuntimeError("runner bug")

    monkeypatch.setattr(runner, "start", broken)
    monkeypatch.setattr(runner, "stop", broken)
    with trio.fail_after(10):
        await daemon.ops.run(KEY, True)
        await daemon.ops.run(KEY, False)
    (started, _), (stopped, _) = daemon.events_in.take(10)
    # Nothing could roll it back: the outcome is unknown, so the peer must not start it.
    assert started == ev.GroupStartFailed(KEY, "internal error: RuntimeError: runner bug",
                                          rolled_back=False)
    assert stopped == ev.GroupStopFailed(KEY, "internal error: RuntimeError: runner bug")
