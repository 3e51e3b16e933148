"""Hostile clients on the control socket, against the server alone (no daemon, no root).

The socket is mode 0666: any local user can connect, and everything a client sends is read
before SO_PEERCRED decides anything. So no line, however built, and no way of holding a
connection may raise out of the server, exhaust it, or flood the log; each bad request gets
`{"ok": false, ...}` and changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket

import pytest
import trio

from twinbeat.control import server as server_module
from twinbeat.control.ratelimit import LogLimiter
from twinbeat.control.server import ControlServer, open_control_listener

GUARD = 20
STATUS = {"node": "prime", "state": "active"}


class Recorder:
    """The daemon's side of the server: a fixed status, and every handoff it was asked for."""

    def __init__(self) -> None:
        self.handoffs: list[tuple[str, str, float]] = []

    def status(self) -> dict[str, object]:
        return dict(STATUS)

    async def handoff(self, cmd: str, which: str, timeout: float) -> dict[str, object]:
        self.handoffs.append((cmd, which, timeout))
        return {"ok": True, "moved": []}


async def connect(run_dir) -> trio.SocketStream:
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.connect(str(run_dir / "control.sock"))
    return trio.SocketStream(sock)


async def ask(run_dir, line: bytes) -> dict[str, object] | None:
    """Send one raw line; the reply as JSON, or None when the server closed without one."""
    stream = await connect(run_dir)
    async with stream:
        with contextlib.suppress(trio.BrokenResourceError):  # refused at once: read why
            await stream.send_all(line)
        data = b""
        while not data.endswith(b"\n"):
            chunk = await stream.receive_some(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data) if data else None


async def serving(tmp_path, nursery, recorder: Recorder, **kwargs) -> ControlServer:
    listener = await open_control_listener(str(tmp_path))
    server = ControlServer(recorder.status, recorder.handoff, **kwargs)
    nursery.start_soon(server.serve, listener)
    return server


async def status_ok(run_dir) -> bool:
    reply = await ask(run_dir, b'{"cmd": "status"}\n')
    return reply is not None and reply.get("ok") is True


@pytest.mark.parametrize("line", [
    b"[" * 2000 + b"\n",                         # RecursionError inside json.loads
    b'{"":' * 1000 + b"\n",
    b'{"cmd": "standby", "which": ' + b"[" * 100_000 + b"\n",
    b'{"cmd": "status", "x": [[[[[[[[1]]]]]]]]}\n',  # deeper than a request ever is
], ids=["list", "object", "in-a-value", "eight-levels"])
async def test_deeply_nested_request_is_refused_and_the_server_keeps_serving(
        tmp_path, nursery, line):
    recorder = Recorder()
    await serving(tmp_path, nursery, recorder)
    with trio.fail_after(GUARD):
        reply = await ask(tmp_path, line)
        assert reply is not None and reply["ok"] is False, reply
        assert await status_ok(tmp_path)
    assert recorder.handoffs == []


async def test_an_unexpected_error_in_a_handler_is_one_reply_and_one_log_line(
        tmp_path, nursery, caplog):
    recorder = Recorder()

    def broken_status() -> dict[str, object]:
        raise RuntimeError("status view exploded")

    listener = await open_control_listener(str(tmp_path))
    nursery.start_soon(ControlServer(broken_status, recorder.handoff).serve, listener)
    with trio.fail_after(GUARD), caplog.at_level(logging.DEBUG, "twinbeat.control"):
        reply = await ask(tmp_path, b'{"cmd": "status"}\n')
        assert reply is not None and reply["ok"] is False
        assert "internal error" in str(reply["error"])
        reply = await ask(tmp_path, b'{"cmd": "reboot"}\n')  # still serving
        assert reply is not None and "unknown command" in str(reply["error"])
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "status view exploded" in errors[0].getMessage()
    assert errors[0].exc_info is None  # the traceback goes to debug, not to the error line


class Uids:
    """SO_PEERCRED stand-in: the n-th accepted connection is from the n-th uid given."""

    def __init__(self, *uids: int) -> None:
        self._uids = iter(uids)

    def __call__(self, stream: trio.SocketStream) -> int:
        return next(self._uids)


async def hold(run_dir, count: int) -> list[trio.SocketStream]:
    """`count` idle connections, each accepted before the next is made."""
    held = []
    for _ in range(count):
        held.append(await connect(run_dir))
        await trio.sleep(0.01)
    return held


async def test_each_user_gets_a_bounded_share_and_root_always_gets_in(tmp_path, nursery):
    per_user, non_root = server_module.MAX_PER_USER, server_module.MAX_CONNECTIONS - \
        server_module.ROOT_RESERVED
    users = [1000 + n // per_user for n in range(non_root)]  # fills the non-root share
    recorder = Recorder()
    server = await serving(tmp_path, nursery, recorder, uid_of=Uids(
        *users[:per_user], 1000,      # one over user 1000's share: busy
        *users[per_user:], 2000,      # over all users' share: busy
        0,                            # root: served from its reserve
    ))
    with trio.fail_after(GUARD):
        held = await hold(tmp_path, per_user)
        assert await ask(tmp_path, b'{"cmd": "status"}\n') == json.loads(server_module.BUSY)
        held += await hold(tmp_path, non_root - per_user)
        assert await ask(tmp_path, b'{"cmd": "status"}\n') == json.loads(server_module.BUSY)
        assert await status_ok(tmp_path)
        assert server.stats.connections_refused == 2
        assert server.stats.connections == non_root + 1
        for stream in held:
            await stream.aclose()


async def test_slowloris_is_cut_at_the_request_timeout_and_frees_its_slot(tmp_path, nursery):
    server = await serving(tmp_path, nursery, Recorder(), request_timeout=0.3)
    with trio.fail_after(GUARD):
        stream = await connect(tmp_path)
        await stream.send_all(b'{"cmd": ')
        started = trio.current_time()
        reply = await stream.receive_some(65536)
        assert 0.25 < trio.current_time() - started < 3
        assert b"no complete request within 0.3 s" in reply
        assert await stream.receive_some(65536) == b""  # and closed
        await stream.aclose()
        assert await status_ok(tmp_path)
    assert server.stats.bad_requests == 1


@pytest.mark.parametrize(("sent", "ok"), [(b'{"cmd": "status"}', True), (b"", False),
                                          (b'{"cmd": "sta', False)])
async def test_half_closed_connection_is_answered(tmp_path, nursery, sent, ok):
    await serving(tmp_path, nursery, Recorder())
    with trio.fail_after(GUARD):
        stream = await connect(tmp_path)
        await stream.send_all(sent)
        await stream.send_eof()
        reply = json.loads(await stream.receive_some(65536))
        await stream.aclose()
        assert reply["ok"] is ok
        assert await status_ok(tmp_path)


async def test_huge_line_is_refused_without_reading_it_all(tmp_path, nursery):
    server = await serving(tmp_path, nursery, Recorder())
    with trio.fail_after(GUARD):
        stream = await connect(tmp_path)

        async def flood() -> None:
            with contextlib.suppress(trio.BrokenResourceError):
                await stream.send_all(b"x" * (8 << 20))

        async with trio.open_nursery() as inner:
            inner.start_soon(flood)
            reply = json.loads(await stream.receive_some(65536))
            inner.cancel_scope.cancel()
        await stream.aclose()
        assert reply["ok"] is False and "too long" in reply["error"]
        assert await status_ok(tmp_path)
    assert server.stats.bad_requests == 1


async def test_refused_state_changes_are_logged_at_a_bounded_rate(tmp_path, nursery, caplog):
    recorder = Recorder()
    server = await serving(tmp_path, nursery, recorder, uid_of=lambda stream: 1000)
    with trio.fail_after(GUARD), caplog.at_level(logging.INFO, "twinbeat.control"):
        for _ in range(50):
            reply = await ask(tmp_path, b'{"cmd": "takeover", "which": "all"}\n')
            assert reply is not None and "permission denied" in str(reply["error"])
    refusals = [r for r in caplog.records if "only root may change state" in r.getMessage()]
    assert len(refusals) == server_module.LOG_BURST
    assert server.stats.state_changes_refused == 50
    assert recorder.handoffs == []


def test_log_limiter_reports_what_it_held_back():
    now = [0.0]
    logger = logging.getLogger("twinbeat.test.ratelimit")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger.addHandler(Keep())
    limiter = LogLimiter(logger, burst=2, window=10.0, clock=lambda: now[0])
    sent = [limiter.log(logging.WARNING, "refused %d", n) for n in range(5)]
    assert sent == [True, True, False, False, False]
    now[0] = 10.0
    assert limiter.log(logging.WARNING, "refused %d", 5)
    assert records == ["refused 0", "refused 1", "refused 5 (3 more like this suppressed)"]


class FailsOnce:
    """A listener whose first accept() raises something serve() does not expect."""

    def __init__(self, listener: trio.SocketListener) -> None:
        self.listener = listener

    async def accept(self) -> trio.SocketStream:
        raise RuntimeError("listener exploded")

    async def aclose(self) -> None:
        await self.listener.aclose()


async def test_a_failing_server_is_restarted_and_the_rest_of_the_daemon_runs_on(
        tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(server_module, "RESTART_DELAY", (0.05, 1.0))
    ticks = 0

    async def core() -> None:  # stands in for the core loop beside the server
        nonlocal ticks
        while True:
            ticks += 1
            await trio.sleep(0.01)

    recorder = Recorder()
    server = ControlServer(recorder.status, recorder.handoff)
    with trio.fail_after(GUARD), caplog.at_level(logging.INFO, "twinbeat.control"):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(core)
            listener = await open_control_listener(str(tmp_path))
            nursery.start_soon(server.run, FailsOnce(listener), str(tmp_path))
            while server.stats.restarts == 0:
                await trio.sleep(0.01)
            while not (tmp_path / "control.sock").exists() or not await answers(tmp_path):
                await trio.sleep(0.02)
            before = ticks
            await trio.sleep(0.1)
            assert ticks > before  # the core never stopped
            nursery.cancel_scope.cancel()
    failures = [r for r in caplog.records if "control socket failed" in r.getMessage()]
    assert len(failures) == 1 and "listener exploded" in failures[0].getMessage()
    assert server.stats.restarts == 1


async def answers(run_dir) -> bool:
    try:
        return await status_ok(run_dir)
    except OSError:
        return False  # between close and reopen


async def test_fence_ack_is_roots_alone_and_reaches_the_daemon_only_then(tmp_path, nursery):
    """Like standby: `fence-ack` lets this node take over, so SO_PEERCRED decides."""
    acks: list[str] = []

    async def fence_ack(node: str) -> dict[str, object]:
        acks.append(node)
        return {"ok": True, "node": node}

    server = await serving(tmp_path, nursery, Recorder(), uid_of=Uids(1000, 0),
                           fence_ack=fence_ack)
    line = b'{"cmd": "fence-ack", "node": "calc"}\n'
    with trio.fail_after(GUARD):
        refused = await ask(tmp_path, line)
        accepted = await ask(tmp_path, line)
    assert refused == {"ok": False,
                       "error": "fence-ack: permission denied (only root may do this)"}
    assert accepted == {"ok": True, "node": "calc"}
    assert acks == ["calc"]
    assert server.stats.state_changes_refused == 1


async def test_fence_ack_without_a_daemon_callback_is_an_error_reply(tmp_path, nursery):
    await serving(tmp_path, nursery, Recorder(), uid_of=Uids(0))
    with trio.fail_after(GUARD):
        reply = await ask(tmp_path, b'{"cmd": "fence-ack", "node": "calc"}\n')
    assert reply == {"ok": False, "error": "fence-ack: not served by this daemon"}


async def test_reload_is_roots_alone(tmp_path, nursery):
    """A reload changes what runs: SO_PEERCRED decides, like standby."""
    asked: list[bool] = []

    async def reload(dry_run: bool) -> dict[str, object]:
        asked.append(dry_run)
        return {"ok": True, "applied": not dry_run, "changes": []}

    server = await serving(tmp_path, nursery, Recorder(), uid_of=Uids(1000, 0), reload=reload)
    line = b'{"cmd": "reload", "dry_run": true}\n'
    with trio.fail_after(GUARD):
        refused = await ask(tmp_path, line)
        accepted = await ask(tmp_path, line)
    assert refused == {"ok": False, "error": "reload: permission denied (only root may do this)"}
    assert accepted == {"ok": True, "applied": False, "changes": []}
    assert asked == [True]
    assert server.stats.state_changes_refused == 1
