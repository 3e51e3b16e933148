"""The metrics endpoint (metrics/httpd.py) against hostile clients, in-process on loopback.

Whatever a client sends, or however many connect, the server answers with one status line
(or closes), counts it, and keeps serving everyone else; nothing escapes its task, and the
work a flood can cause is bounded by the accept rate.
"""

from __future__ import annotations

import errno
import logging
import socket
import struct

import pytest
import trio

from twinbeat.config.model import MetricsEndpoint
from twinbeat.metrics import httpd
from twinbeat.metrics.httpd import MAX_CONNECTIONS, MAX_HEAD, MAX_PER_CLIENT, MetricsServer

GUARD = 30
BODY = b"# TYPE twinbeat_up gauge\ntwinbeat_up 1.0\n"


class Endpoint:
    """A MetricsServer serving on 127.0.0.1:<ephemeral> in the test's nursery."""

    def __init__(self, server: MetricsServer, port: int) -> None:
        self.server = server
        self.port = port

    async def connect(self, source: str = "127.0.0.1") -> trio.SocketStream:
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        await sock.bind((source, 0))
        await sock.connect(("127.0.0.1", self.port))
        return trio.SocketStream(sock)

    async def ask(self, request: bytes, source: str = "127.0.0.1") -> bytes:
        """Send `request` and read the whole reply (the server closes after it)."""
        stream = await self.connect(source)
        async with stream:
            await stream.send_all(request)
            return await read_all(stream)

    def outcomes(self) -> dict[str, int]:
        return {k: v for k, v in self.server.stats.counts().items() if v}


async def read_all(stream: trio.SocketStream) -> bytes:
    data = b""
    try:
        while chunk := await stream.receive_some(65536):
            data += chunk
    except trio.BrokenResourceError:
        pass
    return data


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


@pytest.fixture
async def endpoint(nursery: trio.Nursery) -> Endpoint:
    return await serving(nursery, lambda: BODY)


async def serving(nursery: trio.Nursery, render, **options) -> Endpoint:
    """A server of `render()` (a plain function: its result is the body), rendering anew for
    every scrape unless the test says otherwise."""

    async def body() -> bytes:
        return render()

    options.setdefault("render_interval", 0.0)
    server = MetricsServer(body, **options)
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    nursery.start_soon(server.serve, listeners[0])
    return Endpoint(server, listeners[0].socket.getsockname()[1])


GET = b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"


async def test_a_scrape_and_its_variants(endpoint: Endpoint) -> None:
    with trio.fail_after(GUARD):
        reply = await endpoint.ask(GET)
        head, body = reply.split(b"\r\n\r\n", 1)
        assert status_of(reply) == 200 and body == BODY
        assert b"Connection: close" in head and f"Content-Length: {len(BODY)}".encode() in head
        assert b"Content-Type: text/plain; version=" in head
        head_only = await endpoint.ask(b"HEAD /metrics?x=1 HTTP/1.0\n\n")
        assert status_of(head_only) == 200 and head_only.endswith(b"\r\n\r\n")
        index = await endpoint.ask(b"GET / HTTP/1.1\r\n\r\n")
        assert index.endswith(b"metrics are at /metrics\n")
        assert endpoint.outcomes() == {"ok": 3}


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /admin HTTP/1.1\r\n\r\n", 404),
    (b"GET /metrics/../etc/passwd HTTP/1.1\r\n\r\n", 404),
    (b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 405),
    (b"DELETE /metrics HTTP/1.1\r\n\r\n", 405),
    (b"GET /metrics HTTP/2.0\r\n\r\n", 400),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    (b"GET  /metrics HTTP/1.1\r\n\r\n", 400),
    (b"GET http://evil/metrics HTTP/1.1\r\n\r\n", 400),
    (b"GET /metr\xffics HTTP/1.1\r\n\r\n", 400),
    (b"GET /metrics\x00 HTTP/1.1\r\n\r\n", 400),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\r\n\r\n", 400),
    (b"\r\n\r\n", 400),
    (b"G\xc3\xa9T /metrics HTTP/1.1\r\n\r\n", 400),
])
async def test_requests_that_are_not_a_scrape(endpoint: Endpoint, request_bytes: bytes,
                                              status: int) -> None:
    with trio.fail_after(GUARD):
        reply = await endpoint.ask(request_bytes)
        assert status_of(reply) == status
        if status == 405:
            assert b"Allow: GET, HEAD" in reply
        assert status_of(await endpoint.ask(GET)) == 200  # and the next one is served


async def test_an_oversized_head_is_refused_without_reading_on(endpoint: Endpoint) -> None:
    with trio.fail_after(GUARD):
        stream = await endpoint.connect()
        async with stream:
            await stream.send_all(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD + 10))
            assert status_of(await read_all(stream)) == 431
        assert endpoint.outcomes() == {"too_large": 1}


async def test_a_client_that_closes_or_resets_early(endpoint: Endpoint) -> None:
    with trio.fail_after(GUARD):
        stream = await endpoint.connect()
        await stream.send_all(b"GET /met")
        await stream.aclose()
        stream = await endpoint.connect()
        await stream.send_all(b"GET /metrics HTTP/1.1\r\n")
        # an RST instead of a FIN
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await stream.aclose()
        await trio.sleep(0.1)
        assert status_of(await endpoint.ask(GET)) == 200
        assert endpoint.outcomes() == {"bad_request": 2, "ok": 1}


async def test_slowloris_clients_time_out_and_never_block_a_scrape(nursery) -> None:
    with trio.fail_after(GUARD):
        endpoint = await serving(nursery, lambda: BODY, request_timeout=0.5)
        slow = [await endpoint.connect(f"127.0.0.{n}") for n in (2, 3)]
        for stream in slow:
            await stream.send_all(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        assert status_of(await endpoint.ask(GET)) == 200  # at once, beside them
        for stream in slow:
            await stream.send_all(b"a")  # trickling does not extend the deadline
            assert status_of(await read_all(stream)) == 408
            await stream.aclose()
        assert endpoint.outcomes() == {"ok": 1, "timeout": 2}


async def test_connections_over_the_caps_are_answered_busy_at_once(endpoint: Endpoint) -> None:
    with trio.fail_after(GUARD):
        held = [await endpoint.connect() for _ in range(MAX_PER_CLIENT)]
        await trio.sleep(0.1)
        assert status_of(await endpoint.ask(GET)) == 503  # a fifth from the same address
        assert status_of(await endpoint.ask(GET, "127.0.0.2")) == 200  # others still served
        sources = [f"127.0.1.{n}" for n in range(MAX_CONNECTIONS // MAX_PER_CLIENT)]
        for source in sources[1:]:
            held += [await endpoint.connect(source) for _ in range(MAX_PER_CLIENT)]
        await trio.sleep(0.1)
        assert len(held) == MAX_CONNECTIONS
        assert status_of(await endpoint.ask(GET, "127.0.0.3")) == 503  # the total cap
        for stream in held:
            await stream.aclose()
        await trio.sleep(0.1)
        assert status_of(await endpoint.ask(GET, "127.0.0.3")) == 200
        assert endpoint.outcomes()["busy"] == 2


async def test_a_failing_render_is_a_500_and_the_server_goes_on(nursery, caplog) -> None:
    calls = []

    def render() -> bytes:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("snapshot broke")
        return BODY

    with trio.fail_after(GUARD):
        endpoint = await serving(nursery, render)
        with caplog.at_level(logging.ERROR, logger="twinbeat.metrics"):
            assert status_of(await endpoint.ask(GET)) == 500
        assert "metrics: rendering failed: RuntimeError: snapshot broke" in caplog.text
        assert "Traceback" not in caplog.text
        assert status_of(await endpoint.ask(GET)) == 200
        assert endpoint.outcomes() == {"error": 1, "ok": 1}


async def test_a_client_that_never_reads_its_reply_is_dropped(nursery, monkeypatch) -> None:
    monkeypatch.setattr(httpd, "REPLY_TIMEOUT", 0.5)
    big = b"#" * (32 << 20)  # far more than both sockets' buffers
    with trio.fail_after(GUARD):
        endpoint = await serving(nursery, lambda: big)
        stream = await endpoint.connect()
        await stream.send_all(GET)
        await trio.sleep(1.5)  # the reply times out; the connection is closed
        assert endpoint.server._open == {}
        await stream.aclose()
        assert status_of(await endpoint.ask(b"HEAD /metrics HTTP/1.1\r\n\r\n")) == 200


async def test_a_connection_flood_costs_a_bounded_number_of_renders(nursery) -> None:
    renders = []
    rate = 20.0
    with trio.fail_after(GUARD):
        endpoint = await serving(nursery, lambda: renders.append(1) or BODY, accept_rate=rate)
        began = trio.current_time()  # (every scrape renders anew here: the accept rate alone)

        async def flood(source: str) -> None:
            for _ in range(40):
                await endpoint.ask(GET, source)

        async with trio.open_nursery() as clients:
            for n in range(4):
                clients.start_soon(flood, f"127.0.2.{n}")
        elapsed = trio.current_time() - began
        assert len(renders) == 160  # every request was answered...
        assert len(renders) <= httpd.ACCEPT_BURST + rate * elapsed + 1  # ...at the rate


async def test_scrapes_share_one_render_per_interval(nursery) -> None:
    renders = []
    with trio.fail_after(GUARD):
        endpoint = await serving(nursery, lambda: renders.append(1) or BODY,
                                 render_interval=1.0, accept_rate=1000.0)
        began = trio.current_time()
        async with trio.open_nursery() as clients:
            for n in range(8):
                clients.start_soon(endpoint.ask, GET, f"127.0.3.{n}")  # at once: one render
        assert len(renders) == 1
        for _ in range(40):
            assert status_of(await endpoint.ask(GET)) == 200
        elapsed = trio.current_time() - began
        assert endpoint.outcomes() == {"ok": 48}
        assert len(renders) <= elapsed / 1.0 + 1


async def test_the_supervisor_waits_for_the_address_and_port(nursery, caplog, monkeypatch) -> None:
    monkeypatch.setattr(httpd, "RESTART_DELAY", (0.1, 0.2))
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    port = squatter.getsockname()[1]
    async def body() -> bytes:
        return BODY

    server = MetricsServer(body)
    with trio.fail_after(GUARD), caplog.at_level(logging.INFO, logger="twinbeat.metrics"):
        nursery.start_soon(server.run, MetricsEndpoint("127.0.0.1", port))
        nursery.start_soon(server.run, MetricsEndpoint("198.18.250.1", port))  # not ours
        await trio.sleep(1.0)
        squatter.close()
        endpoint = Endpoint(server, port)
        while True:
            try:
                reply = await endpoint.ask(GET)
                break
            except OSError as exc:
                assert exc.errno == errno.ECONNREFUSED
                await trio.sleep(0.1)
        assert status_of(reply) == 200
    lines = caplog.text.splitlines()
    in_use = [line for line in lines if f"127.0.0.1:{port}: cannot listen" in line]
    assert len(in_use) == 1 and "Address already in use" in in_use[0]  # once, not per retry
    assert sum("198.18.250.1" in line and "not an address of this node" in line
               for line in lines) == 1
    assert any(f"serving http://127.0.0.1:{port}/metrics" in line for line in lines)
