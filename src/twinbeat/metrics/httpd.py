"""The metrics endpoint: a deliberately tiny HTTP/1.x server for `GET /metrics`, in trio.

It runs in the daemon's own event loop (no thread, DESIGN.md §2), beside the core task, and
anyone who can reach ADDRESS:PORT may connect, so every connection is hostile input and
nothing a client does may cost the daemon more than a bounded share of that loop:

- **One request per connection**, answered with `Connection: close`. Only `GET` and `HEAD`
  of `/metrics` (and `/`, a pointer to it) are served; the request head must arrive whole
  within REQUEST_TIMEOUT and within MAX_HEAD bytes (else 408 / 431). Header fields and any
  body are never parsed: nothing in them changes the answer.
- **Connections are capped**: MAX_CONNECTIONS at once, MAX_PER_CLIENT from one address;
  one over a cap is answered 503 without waiting and closed, never queued.
- **New connections are rate-limited** (ACCEPT_RATE per second, a burst of ACCEPT_BURST):
  past that the accept loop waits and the kernel's backlog (BACKLOG) holds or drops the
  rest, so a connection flood costs at most a few renders per second.
- **At most one render per RENDER_INTERVAL**: scrapes within it share the last body (and
  concurrent ones wait for the render under way), so however many clients ask, the daemon
  renders about once a second. The render itself is a coroutine that yields to the loop
  between metric families (daemon/metrics.py), so no scrape holds a heartbeat back for
  longer than one family takes.
- **A reply that cannot be sent within REPLY_TIMEOUT is dropped**; no exception leaves a
  connection's task (a failed render is a 500 and one rate-limited log line).
- `run` supervises it all: an endpoint that cannot be bound (an address this node does not
  have, a port in use) is retried with backoff, and a server that fails serves again, while
  the core and the links carry on.

Every outcome is counted (`EndpointStats`) and exported as `twinbeat_metrics_requests_total`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import trio
from prometheus_client import CONTENT_TYPE_LATEST

from twinbeat.config.model import MetricsEndpoint
from twinbeat.control.accepting import accept_retrying
from twinbeat.control.ratelimit import LogLimiter

MAX_HEAD = 8192  # request line and headers: a scraper's is a few hundred bytes
REQUEST_TIMEOUT = 5.0
REPLY_TIMEOUT = 5.0
MAX_CONNECTIONS = 16
MAX_PER_CLIENT = 4
ACCEPT_RATE, ACCEPT_BURST = 20.0, 20  # Prometheus scrapes every few seconds
BACKLOG = 16
RESTART_DELAY = (1.0, 30.0)
RENDER_INTERVAL = 1.0  # s: a body this fresh is served again instead of rendering anew
LOG_BURST, LOG_WINDOW = 5, 60.0
INDEX = b"twinbeat: metrics are at /metrics\n"
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}
# The outcome each status is counted under.
OUTCOMES = {200: "ok", 400: "bad_request", 404: "not_found", 405: "method_not_allowed",
            408: "timeout", 431: "too_large", 500: "error", 503: "busy"}

log = logging.getLogger("twinbeat.metrics")

Render = Callable[[], Awaitable[bytes]]


class Request(NamedTuple):
    method: str
    path: str


class HttpError(Exception):
    """A request refused with `status`."""

    def __init__(self, status: int) -> None:
        super().__init__(REASONS[status])
        self.status = status


def parse_head_untrusted(head: bytes) -> Request:
    """The request line of a complete request head; raises HttpError only."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(400) from None
    line = text.split("\n", 1)[0].rstrip("\r")
    parts = line.split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(400)
    method, target, _version = parts
    if not method.isalpha() or not target.startswith("/") or not target.isprintable():
        raise HttpError(400)
    if method not in ("GET", "HEAD"):
        raise HttpError(405)
    path = target.split("?", 1)[0]
    if path not in ("/metrics", "/"):
        raise HttpError(404)
    return Request(method, path)


def response(status: int, body: bytes, content_type: str, *, head_only: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS[status]}", f"Content-Type: {content_type}",
             f"Content-Length: {len(body)}", "Connection: close"]
    if status == 405:
        lines.append("Allow: GET, HEAD")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head_only else body)


def error_response(status: int) -> bytes:
    return response(status, f"{status} {REASONS[status]}\n".encode(), "text/plain")


@dataclass
class EndpointStats:
    """Requests by outcome (OUTCOMES' values)."""

    outcomes: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, int]:
        return {outcome: self.outcomes[outcome] for outcome in sorted(set(OUTCOMES.values()))}


async def _read_head(stream: trio.SocketStream) -> bytes:
    """The request head, up to its blank line; HttpError(431) past MAX_HEAD, (400) on EOF."""
    data = bytearray()
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        if len(data) > MAX_HEAD:
            raise HttpError(431)
        try:
            chunk = await stream.receive_some(MAX_HEAD)
        except trio.BrokenResourceError:
            chunk = b""
        if not chunk:
            raise HttpError(400)
        data += chunk
    return bytes(data)


class MetricsServer:
    """Serves `render()`'s bytes at /metrics on the endpoints `run` is given."""

    def __init__(self, render: Render, *, request_timeout: float = REQUEST_TIMEOUT,
                 accept_rate: float = ACCEPT_RATE,
                 render_interval: float = RENDER_INTERVAL) -> None:
        self._render = render
        self._render_interval = render_interval
        self._rendered: tuple[float, bytes] | None = None  # (when, body) of the last render
        self._render_lock = trio.Lock()
        self._request_timeout = request_timeout
        self._accept_rate = accept_rate
        self._tokens = float(ACCEPT_BURST)
        self._refilled = 0.0
        self.stats = EndpointStats()
        self._open: Counter[str] = Counter()  # connections being served, per client address
        self._error_log = LogLimiter(log, burst=LOG_BURST, window=LOG_WINDOW)
        self._busy_log = LogLimiter(log, burst=LOG_BURST, window=LOG_WINDOW)

    # -- lifetime -------------------------------------------------------------------------------

    async def run(self, endpoint: MetricsEndpoint) -> None:
        """Listen on `endpoint` and serve until cancelled, binding again after any failure."""
        first, longest = RESTART_DELAY
        delay, reported = first, ""
        while True:
            try:
                listeners = await trio.open_tcp_listeners(endpoint.port, host=endpoint.host,
                                                          backlog=BACKLOG)
            except Exception as exc:  # an OSError, or anything odd: never the daemon's end
                problem = _bind_problem(exc)
                if problem != reported:  # once per kind of failure, not per retry
                    log.warning("metrics %s: cannot listen: %s; retrying", endpoint, problem)
                    reported = problem
                await trio.sleep(delay)
                delay = min(delay * 2, longest)
                continue
            log.info("metrics: serving http://%s/metrics", endpoint)
            began, reported = trio.current_time(), ""
            failure = await self._serve_contained(listeners)
            if trio.current_time() - began > longest:
                delay = first
            log.error("metrics %s: server failed (%s); serving again in %g s", endpoint,
                      failure, delay)
            await trio.sleep(delay)
            delay = min(delay * 2, longest)

    async def _serve_contained(self, listeners: list[trio.SocketListener]) -> str:
        try:
            async with trio.open_nursery() as nursery:
                for listener in listeners:
                    nursery.start_soon(self.serve, listener)
            return "stopped serving"
        except Exception as exc:
            log.debug("metrics server failure", exc_info=True)
            return _describe(exc)
        finally:
            for listener in listeners:
                with contextlib.suppress(Exception):
                    await listener.aclose()

    async def serve(self, listener: trio.SocketListener) -> None:
        """Accept connections (rate-limited) and serve each in its own task, within the caps."""
        async with trio.open_nursery() as nursery:
            while True:
                await self._accept_token()
                stream = await accept_retrying(listener, self._error_log, "metrics")
                client = _client_of(stream)
                if self._admits(client):
                    self._open[client] += 1
                    nursery.start_soon(self._connection, stream, client)
                else:
                    self._refuse_busy(stream, client)

    async def _accept_token(self) -> None:
        """Wait for one token of the accept rate (a token bucket, ACCEPT_BURST deep)."""
        now = trio.current_time()
        self._tokens = min(float(ACCEPT_BURST),
                           self._tokens + (now - self._refilled) * self._accept_rate)
        self._refilled = now
        if self._tokens < 1.0:
            await trio.sleep((1.0 - self._tokens) / self._accept_rate)
            self._tokens, self._refilled = 1.0, trio.current_time()
        self._tokens -= 1.0

    # -- admission ------------------------------------------------------------------------------

    def _admits(self, client: str) -> bool:
        return (sum(self._open.values()) < MAX_CONNECTIONS
                and self._open[client] < MAX_PER_CLIENT)

    def _refuse_busy(self, stream: trio.SocketStream, client: str) -> None:
        """Answer 503 without waiting (a full socket buffer just loses it) and close."""
        self.stats.outcomes[OUTCOMES[503]] += 1
        self._busy_log.log(logging.WARNING, "metrics: refused a connection from %s: too many "
                           "connections open", client)
        fd = stream.socket.detach()  # non-blocking: this write never waits
        try:
            os.write(fd, error_response(503))
        except OSError:
            pass  # gone, or its buffer is full: closing says enough
        finally:
            os.close(fd)

    # -- one connection -------------------------------------------------------------------------

    async def _connection(self, stream: trio.SocketStream, client: str) -> None:
        """Serve one request; nothing raised in here leaves this task (Cancelled aside)."""
        try:
            async with stream:
                status, reply = await self._answer(stream)
                self.stats.outcomes[OUTCOMES[status]] += 1
                with trio.move_on_after(REPLY_TIMEOUT), contextlib.suppress(
                        trio.BrokenResourceError, trio.ClosedResourceError):
                    await stream.send_all(reply)
        except Exception as exc:
            self.stats.outcomes["error"] += 1
            self._error_log.log(logging.ERROR, "metrics: request from %s failed: %s", client,
                                _describe(exc))
        finally:
            self._open[client] -= 1
            if not self._open[client]:
                del self._open[client]

    async def _answer(self, stream: trio.SocketStream) -> tuple[int, bytes]:
        """(status, the whole reply) for the request on `stream`."""
        try:
            with trio.fail_after(self._request_timeout):
                request = parse_head_untrusted(await _read_head(stream))
        except trio.TooSlowError:
            return 408, error_response(408)
        except HttpError as exc:
            return exc.status, error_response(exc.status)
        head_only = request.method == "HEAD"
        if request.path == "/":
            return 200, response(200, INDEX, "text/plain", head_only=head_only)
        try:
            body = await self._body()
        except Exception as exc:
            self._error_log.log(logging.ERROR, "metrics: rendering failed: %s", _describe(exc))
            log.debug("metrics: rendering failed", exc_info=exc)
            return 500, error_response(500)
        return 200, response(200, body, CONTENT_TYPE_LATEST, head_only=head_only)


    async def _body(self) -> bytes:
        """The last body if it is fresh enough, else a new render (one at a time)."""
        async with self._render_lock:
            now = trio.current_time()
            if self._rendered is None or now - self._rendered[0] >= self._render_interval:
                self._rendered = (now, await self._render())
            return self._rendered[1]


def _client_of(stream: trio.SocketStream) -> str:
    try:
        return str(stream.socket.getpeername()[0])
    except OSError:
        return "?"


def _bind_problem(exc: Exception) -> str:
    if not isinstance(exc, OSError):
        return _describe(exc)
    if exc.errno == errno.EADDRNOTAVAIL:
        return "not an address of this node (yet)"
    if isinstance(exc, socket.gaierror):
        return f"address lookup failed: {exc.strerror}"
    return exc.strerror or str(exc)


def _describe(exc: BaseException) -> str:
    """`Type: message` of what went wrong, looking inside trio's exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"
