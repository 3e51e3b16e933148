"""GroupRunner with agents that fail the way real ones do, not only with `AgentError`.

A VIP on an interface without a MAC raised AttributeError, a full file table raises
OSError(EMFILE) from `IPRoute()` or `TemporaryFile()`: each must become a failed start or
stop of that group that names the resource (one log line; the traceback only at debug), with
the group runner's usual rollback, and never an exception that ends the daemon. Cancellation
and other BaseExceptions are not failures of a resource and must pass through untouched.
"""

from __future__ import annotations

import errno
import logging

import pytest
import trio

from twinbeat.config.model import Group, ScriptResource
from twinbeat.resources import AgentError, RollbackFailedError
from twinbeat.resources.group import GroupRunner

EMFILE = OSError(errno.EMFILE, "Too many open files")


class FakeAgent:
    """An agent that records its calls and raises whatever it is told to, per operation."""

    def __init__(self, text: str, calls: list[str], **raises: BaseException) -> None:
        self.text = text
        self.calls = calls
        self.raises = raises
        self.running = False

    async def _do(self, op: str) -> None:
        self.calls.append(f"{self.text} {op}")
        if op in self.raises:
            raise self.raises[op]

    async def start(self) -> None:
        await self._do("start")
        self.running = True

    async def stop(self) -> None:
        await self._do("stop")
        self.running = False

    async def status(self) -> bool:
        await self._do("status")
        return self.running

    async def announce(self) -> None:
        await self._do("announce")


def runner_of(*agents: FakeAgent) -> GroupRunner:
    resources = tuple(ScriptResource(a.text, (), a.text) for a in agents)
    group = Group(agents[0].text, "prime", resources, "haresources", 1)
    return GroupRunner(group, list(agents), stop_retry_delay=0.0)


def error_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("exc", [AttributeError("'NoneType' object has no attribute 'split'"),
                                 EMFILE, KeyError("index"), ValueError("bad mac")],
                         ids=["attribute", "emfile", "key", "value"])
async def test_unexpected_error_on_start_is_a_rolled_back_failure_naming_the_resource(
        exc, caplog):
    calls: list[str] = []
    first, second = FakeAgent("web", calls), FakeAgent("IPaddr::10.0.0.1", calls, start=exc)
    runner = runner_of(first, second)
    with caplog.at_level(logging.DEBUG, "twinbeat.resources"), \
            pytest.raises(AgentError) as info:
        await runner.start()
    assert not isinstance(info.value, RollbackFailedError)
    assert "IPaddr::10.0.0.1" in str(info.value) and "rolled back" in str(info.value)
    assert type(exc).__name__ in str(info.value)
    assert calls == ["web start", "IPaddr::10.0.0.1 start", "web stop"]
    assert not first.running
    assert error_lines(caplog), caplog.text
    assert all(r.exc_info is None for r in error_lines(caplog))  # one line, no traceback
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)


async def test_unexpected_error_in_the_rollback_is_a_failed_rollback():
    calls: list[str] = []
    runner = runner_of(FakeAgent("web", calls, stop=EMFILE, status=EMFILE),
                       FakeAgent("db", calls, start=AttributeError("no mac")))
    with pytest.raises(RollbackFailedError, match=r"db.*rollback failed: web"):
        await runner.start()


async def test_unexpected_error_on_stop_is_a_failed_stop_and_the_rest_still_stop(caplog):
    calls: list[str] = []
    agents = (FakeAgent("a", calls), FakeAgent("b", calls, stop=EMFILE, status=EMFILE),
              FakeAgent("c", calls))
    runner = runner_of(*agents)
    await runner.start()
    with caplog.at_level(logging.DEBUG, "twinbeat.resources"), \
            pytest.raises(AgentError, match=r"stop of group a failed: b: .*Too many open files"):
        await runner.stop()
    assert calls[-6:] == ["c stop", "b stop", "b stop", "b stop", "b status", "a stop"]
    assert all(r.exc_info is None for r in error_lines(caplog))


async def test_unexpected_error_on_status_counts_as_running_and_on_announce_fails():
    calls: list[str] = []
    runner = runner_of(FakeAgent("a", calls, status=AttributeError("x"),
                                 announce=EMFILE))
    assert await runner.running() is True  # unknown: stop it rather than start a second copy
    with pytest.raises(AgentError, match=r"announce of group a failed: a: .*Too many"):
        await runner.announce()


class Stop(BaseException):
    """Not an Exception: like KeyboardInterrupt or SystemExit, it must not become a failure."""


async def test_base_exceptions_and_cancellation_pass_through():
    calls: list[str] = []
    runner = runner_of(FakeAgent("a", calls, start=Stop()))
    with pytest.raises(Stop):
        await runner.start()

    class Hangs(FakeAgent):
        async def start(self) -> None:
            await trio.sleep_forever()

    runner = runner_of(FakeAgent("a", calls), Hangs("b", calls))
    with trio.move_on_after(0.01) as scope:
        await runner.start()
    assert scope.cancelled_caught  # the Cancelled reached its scope: not turned into an error
