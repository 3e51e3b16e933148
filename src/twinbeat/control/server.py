"""The control socket: `<run-dir>/control.sock`, one JSON object per line each way.

Requests (control/requests.py): `{"cmd": "status"}`, `{"cmd": "standby"|"takeover", "which":
"local"|"foreign"|"all", "timeout": seconds}`, `{"cmd": "clear", "group": KEY|null}`,
`{"cmd": "fence-ack", "node": NAME}`, `{"cmd": "reload", "dry_run": bool}`. Replies:
`{"ok": true, ...}` or `{"ok": false, "error": "..."}`. Anyone local may read status (the
socket is mode 0666); only root may change state (standby, takeover, clear, fence-ack,
reload), decided from the kernel's SO_PEERCRED, never from anything the client says about
itself.

Because anyone may connect, the server treats every connection as hostile and nothing a
client does may reach the daemon's core (issue #11):
- each connection is its own task; no exception leaves it (it is logged, rate-limited, and
  answered with an error while the stream still works);
- a request must arrive whole within REQUEST_TIMEOUT and is parsed by
  `parse_request_untrusted` (size and nesting bounded before json runs);
- at most MAX_CONNECTIONS are served at once; non-root users together get all but
  ROOT_RESERVED of them and each at most MAX_PER_USER, so no user can lock root (or other
  users) out; an excess connection is answered "busy" and closed at once, never queued;
- log lines a client can cause are rate-limited (control/ratelimit.py) and every refusal is
  counted in the status document's `control` section;
- `run` supervises `serve`: if the server fails anyway, it logs the failure and serves again on
  a fresh socket, so the core and the links never notice.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import struct
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import trio

from twinbeat.control.accepting import accept_retrying
from twinbeat.control.ratelimit import LogLimiter
from twinbeat.control.requests import (
    MAX_REQUEST,
    BadRequestError,
    ClearRequest,
    FenceAckRequest,
    HandoffRequest,
    ReloadRequest,
    Request,
    StatusRequest,
    parse_request_untrusted,
)

SOCKET_NAME = "control.sock"
REQUEST_TIMEOUT = 5.0  # the whole request line, however slowly it trickles in
REPLY_TIMEOUT = 5.0  # a client that does not read its reply is dropped
MAX_CONNECTIONS = 32  # a CLI command uses one, for well under a second
ROOT_RESERVED = 8  # of MAX_CONNECTIONS: only root may use these
MAX_PER_USER = 8  # connections one non-root uid may hold
RESTART_DELAY = (1.0, 30.0)  # first and longest pause before serving again after a failure
# Client-caused log lines: this many per window, then counted (ratelimit.py).
LOG_BURST, LOG_WINDOW = 5, 60.0
BUSY = b'{"ok": false, "error": "control socket busy: too many connections; try again"}\n'

log = logging.getLogger("twinbeat.control")

StatusFn = Callable[[], dict[str, Any]]
HandoffFn = Callable[[str, str, float], Awaitable[dict[str, Any]]]
ClearFn = Callable[[str | None], Awaitable[dict[str, Any]]]
FenceAckFn = Callable[[str], Awaitable[dict[str, Any]]]
ReloadFn = Callable[[bool], Awaitable[dict[str, Any]]]
UidFn = Callable[[trio.SocketStream], int]


class ControlSocketError(Exception):
    """The control socket cannot be created (e.g. another daemon is already running)."""


def peer_uid(sock: socket.socket | trio.socket.SocketType) -> int:
    """The uid of the process at the other end of a Unix socket, as the kernel reports it."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _stream_uid(stream: trio.SocketStream) -> int:
    return peer_uid(stream.socket)


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
    """The first line (without its newline), or what came before EOF. Reading stops once
    more than MAX_REQUEST bytes are in (the parser refuses such a line); a reset connection
    reads as EOF."""
    data = bytearray()
    with contextlib.suppress(trio.BrokenResourceError):
        while b"\n" not in data and len(data) <= MAX_REQUEST:
            chunk = await stream.receive_some(MAX_REQUEST)
            if not chunk:
                break
            data += chunk
    return bytes(data).split(b"\n", 1)[0]


@dataclass
class ControlStats:
    """What the server refused or survived, for the status document (`control`)."""

    connections: int = 0  # served
    connections_refused: int = 0  # over a connection limit: answered "busy" and closed
    bad_requests: int = 0
    state_changes_refused: int = 0  # standby/takeover/clear from a non-root uid
    errors: int = 0  # unexpected exceptions in one connection (logged, contained)
    restarts: int = 0  # times the whole server failed and was started again


StateRequest = HandoffRequest | ClearRequest | FenceAckRequest | ReloadRequest


def _command(request: StateRequest) -> str:
    """The command's name as the client typed it, for refusals."""
    match request:
        case HandoffRequest(cmd=cmd):
            return cmd
        case ClearRequest():
            return "clear"
        case FenceAckRequest():
            return "fence-ack"
        case ReloadRequest():
            return "reload"


class ControlServer:
    """Serves requests against the daemon's status and handoff functions."""

    def __init__(self, status: StatusFn, handoff: HandoffFn, *,
                 uid_of: UidFn = _stream_uid, request_timeout: float = REQUEST_TIMEOUT,
                 clear: ClearFn | None = None, fence_ack: FenceAckFn | None = None,
                 reload: ReloadFn | None = None) -> None:
        self._status = status
        self._handoff = handoff
        self._clear = clear
        self._fence_ack = fence_ack
        self._reload = reload
        self._uid_of = uid_of  # SO_PEERCRED; a test may stand in another user
        self._request_timeout = request_timeout
        self.stats = ControlStats()
        self._open: Counter[int] = Counter()  # connections being served, per uid
        self._refusal_log = LogLimiter(log, burst=LOG_BURST, window=LOG_WINDOW)
        self._busy_log = LogLimiter(log, burst=LOG_BURST, window=LOG_WINDOW)
        self._error_log = LogLimiter(log, burst=LOG_BURST, window=LOG_WINDOW)

    # -- lifetime -------------------------------------------------------------------------------

    async def run(self, listener: trio.SocketListener, run_dir: str) -> None:
        """Serve until cancelled; if serving fails, log it and serve again on a fresh socket.

        Whatever goes wrong here stays here: the daemon starts this beside its core task, and
        an exception leaving it would end the daemon with its groups held.
        """
        first, longest = RESTART_DELAY
        delay = first
        while True:
            began = trio.current_time()
            try:
                await self.serve(listener)
                failure = "stopped serving"
            except Exception as exc:
                failure = _describe(exc)
                log.debug("control socket failure", exc_info=True)
            if trio.current_time() - began > longest:
                delay = first  # it had been serving for a while: a new failure, not a loop
            self.stats.restarts += 1
            log.error("control socket failed (%s); serving again in %g s", failure, delay)
            with contextlib.suppress(Exception):
                await listener.aclose()
            await trio.sleep(delay)
            listener = await self._reopen(run_dir, delay, longest)
            delay = min(delay * 2, longest)

    async def _reopen(self, run_dir: str, delay: float, longest: float) -> trio.SocketListener:
        while True:
            try:
                return await open_control_listener(run_dir)
            except ControlSocketError as exc:
                log.error("control socket: cannot reopen: %s; retrying in %g s", exc, delay)
            await trio.sleep(delay)
            delay = min(delay * 2, longest)

    async def serve(self, listener: trio.SocketListener) -> None:
        """Accept connections and serve each in its own task, within the limits."""
        async with trio.open_nursery() as nursery:
            while True:
                stream = await accept_retrying(listener, self._error_log, "control socket")
                try:
                    uid = self._uid_of(stream)
                except OSError:
                    uid = -1  # unknown: served as an unprivileged user
                if self._admits(uid):
                    self._open[uid] += 1
                    nursery.start_soon(self._connection, stream, uid)
                else:
                    self._refuse_busy(stream, uid)

    # -- admission ------------------------------------------------------------------------------

    def _admits(self, uid: int) -> bool:
        total = sum(self._open.values())
        if uid == 0:
            return total < MAX_CONNECTIONS
        users = total - self._open[0]
        return users < MAX_CONNECTIONS - ROOT_RESERVED and self._open[uid] < MAX_PER_USER

    def _refuse_busy(self, stream: trio.SocketStream, uid: int) -> None:
        """Answer "busy" without waiting (a full socket buffer just loses it) and close."""
        self.stats.connections_refused += 1
        self._busy_log.log(logging.WARNING, "control socket: refused a connection from uid %d: "
                           "too many connections open", uid)
        fd = stream.socket.detach()  # trio's sockets are non-blocking: this write never waits
        try:
            os.write(fd, BUSY)
        except OSError:
            pass  # the client is gone, or its buffer is full: closing says enough
        finally:
            os.close(fd)

    # -- one connection -------------------------------------------------------------------------

    async def _connection(self, stream: trio.SocketStream, uid: int) -> None:
        """Serve one request; nothing raised in here leaves this task (Cancelled aside)."""
        self.stats.connections += 1
        try:
            async with stream:
                await self._serve_one(stream, uid)
        except Exception as exc:
            self._contain(exc, uid)
        finally:
            self._open[uid] -= 1
            if not self._open[uid]:
                del self._open[uid]

    async def _serve_one(self, stream: trio.SocketStream, uid: int) -> None:
        try:
            request = await self._read_request(stream)
        except BadRequestError as exc:
            self.stats.bad_requests += 1
            await self._reply(stream, {"ok": False, "error": f"bad request: {exc}"})
            return
        try:
            reply = await self._dispatch(request, uid)
        except Exception as exc:
            self._contain(exc, uid)
            reply = {"ok": False, "error": "internal error (see the daemon's log)"}
        await self._reply(stream, reply)

    async def _read_request(self, stream: trio.SocketStream) -> Request:
        with trio.move_on_after(self._request_timeout):
            return parse_request_untrusted(await _read_line(stream))
        raise BadRequestError(f"no complete request within {self._request_timeout:g} s")

    def _contain(self, exc: Exception, uid: int) -> None:
        """One rate-limited error line for an unexpected exception; the traceback at debug."""
        self.stats.errors += 1
        self._error_log.log(logging.ERROR, "control socket: request from uid %d failed: %s",
                            uid, _describe(exc))
        log.debug("control socket: request from uid %d failed", uid, exc_info=exc)

    async def _dispatch(self, request: Request, uid: int) -> dict[str, Any]:
        if isinstance(request, StatusRequest):
            return {"ok": True, "status": {**self._status(), "control": asdict(self.stats)}}
        if uid != 0:
            return self._refuse(_command(request), uid)
        return await self._change(request)

    async def _change(self, request: StateRequest) -> dict[str, Any]:
        """Root's state changes; a daemon that does not serve one (a test's) says so."""
        match request:
            case HandoffRequest(cmd=cmd, which=which, timeout=timeout):
                return await self._handoff(cmd, which, timeout)
            case ClearRequest(group=group) if self._clear is not None:
                return await self._clear(group)
            case FenceAckRequest(node=node) if self._fence_ack is not None:
                return await self._fence_ack(node)
            case ReloadRequest(dry_run=dry_run) if self._reload is not None:
                return await self._reload(dry_run)
        command = _command(request)
        return {"ok": False, "error": f"{command}: not served by this daemon"}

    def _refuse(self, cmd: str, uid: int) -> dict[str, Any]:
        """A state change from a user other than root (SO_PEERCRED): counted, logged
        (rate-limited) and refused."""
        self.stats.state_changes_refused += 1
        self._refusal_log.log(logging.WARNING, "refused %s from uid %d: only root may "
                              "change state", cmd, uid)
        return {"ok": False, "error": f"{cmd}: permission denied (only root may do this)"}

    @staticmethod
    async def _reply(stream: trio.SocketStream, reply: dict[str, Any]) -> None:
        with trio.move_on_after(REPLY_TIMEOUT), \
                contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(json.dumps(reply).encode() + b"\n")


def _describe(exc: BaseException) -> str:
    """`Type: message` of what went wrong, looking inside trio's exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"
