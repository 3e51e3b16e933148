"""Hostile clients on the control socket, against the server alone (no daemon, no root).

The socket is mode 0666: any local user can connect, and everything a client sends is read
before SO_PEERCRED decides anything. So no line, however built, and no way of holding a
connection may raise out of the server, exhaust it, or flood the log; each bad request gets
`{"ok": false, ...}` and changes nothing.
"""

from __future__ import annotations

import json
import logging
import socket

import pytest
import trio

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
