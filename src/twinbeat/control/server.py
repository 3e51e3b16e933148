"""The control socket: `<run-dir>/control.sock`, one JSON object per line each way.

Requests: `{"cmd": "status"}`, `{"cmd": "standby"|"takeover", "which": "local"|"foreign"|"all",
"timeout": seconds}`. Replies: `{"ok": true, ...}` or `{"ok": false, "error": "..."}`.
Anyone local may read status (the socket is mode 0666); only root may change state, decided
from the kernel's SO_PEERCRED, never from anything the client says about itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import trio

SOCKET_NAME = "control.sock"
MAX_REQUEST = 4096
REQUEST_TIMEOUT = 5.0
WHICH = ("local", "foreign", "all")

log = logging.getLogger("twinbeat.control")

StatusFn = Callable[[], dict[str, Any]]
HandoffFn = Callable[[str, str, float], Awaitable[dict[str, Any]]]


class ControlSocketError(Exception):
    """The control socket cannot be created (e.g. another daemon is already running)."""


def peer_uid(sock: socket.socket | trio.socket.SocketType) -> int:
    """The uid of the process at the other end of a Unix socket, as the kernel reports it."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _claim_path(path: str) -> None:
    """Remove a stale socket file, refusing if a live daemon still answers on it."""
    if not os.path.exists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: left behind by a crashed daemon
    else:
        raise ControlSocketError(f"{path}: another twinbeat daemon is running")
    finally:
        probe.close()


def ensure_not_running(run_dir: str) -> None:
    """Refuse early (before the generation is bumped or anything is logged) when a live daemon
    answers on this run dir's socket; `open_control_listener` checks again when binding."""
    try:
        _claim_path(os.path.join(run_dir, SOCKET_NAME))
    except OSError as exc:
        raise ControlSocketError(f"{run_dir}: {exc.strerror or exc}") from None


async def open_control_listener(run_dir: str) -> trio.SocketListener:
    path = os.path.join(run_dir, SOCKET_NAME)
    try:
        os.makedirs(run_dir, mode=0o755, exist_ok=True)
        _claim_path(path)
        sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        await sock.bind(path)
        os.chmod(path, 0o666)  # status for everyone; SO_PEERCRED guards the rest
        sock.listen(16)
    except OSError as exc:
        raise ControlSocketError(f"{path}: {exc.strerror or exc}") from None
    return trio.SocketListener(sock)


async def _read_line(stream: trio.SocketStream) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = await stream.receive_some(MAX_REQUEST)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too long")
    return data.split(b"\n", 1)[0]


class ControlServer:
    """Serves requests against the daemon's status and handoff functions."""

    def __init__(self, status: StatusFn, handoff: HandoffFn) -> None:
        self._status = status
        self._handoff = handoff

    async def serve(self, listener: trio.SocketListener) -> None:
        await trio.serve_listeners(self._handle, [listener])

    async def _handle(self, stream: trio.SocketStream) -> None:
        async with stream:
            try:
                with trio.fail_after(REQUEST_TIMEOUT):
                    line = await _read_line(stream)
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("request is not a JSON object")
            except (ValueError, trio.TooSlowError, UnicodeDecodeError) as exc:
                await self._reply(stream, {"ok": False, "error": f"bad request: {exc}"})
                return
            except trio.BrokenResourceError:
                return
            reply = await self._dispatch(request, peer_uid(stream.socket))
            await self._reply(stream, reply)

    async def _dispatch(self, request: dict[str, Any], uid: int) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "status":
            return {"ok": True, "status": self._status()}
        if cmd in ("standby", "takeover"):
            if uid != 0:
                log.warning("refused %s from uid %d: only root may change state", cmd, uid)
                return {"ok": False, "error": f"{cmd}: permission denied (only root may do this)"}
            which = request.get("which", "all")
            timeout = request.get("timeout", 60.0)
            if which not in WHICH:
                return {"ok": False, "error": f"{cmd}: which must be one of {', '.join(WHICH)}"}
            if not isinstance(timeout, int | float) or not 0 < timeout <= 3600:
                return {"ok": False, "error": f"{cmd}: timeout must be 0 < seconds <= 3600"}
            return await self._handoff(cmd, which, float(timeout))
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    @staticmethod
    async def _reply(stream: trio.SocketStream, reply: dict[str, Any]) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(json.dumps(reply).encode() + b"\n")
