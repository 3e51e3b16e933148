"""The client's view: HTTP GETs on the VIP every few milliseconds, from the client namespace.

Run as a child process (`python -m twinbeat.lab.poller ADDRESS`) inside `<name>-client`; it
prints one line per request: `<monotonic seconds> <body>` for an answer, and
`<monotonic seconds> ! <monotonic seconds the request started>` for a lost one (refused, reset,
a bad status, no answer within REQUEST_TIMEOUT, or not even started because MAX_IN_FLIGHT
requests were pending). CLOCK_MONOTONIC is system-wide, so the parent compares these times
with its own `time.monotonic()` at the moment it injected a fault.

Requests overlap: a new connection starts every interval whatever the older ones are doing,
so a SYN stuck behind a stale ARP entry (the old holder's MAC) does not hide the first answer
from the new holder; the resolution is the interval, not a connect timeout. A SYN sent to a
MAC that no longer has the address is retransmitted by TCP only after 1 s, past
REQUEST_TIMEOUT: every request started while the client's ARP entry is wrong is lost, which is
what `Poller.lost` counts.

`Poller` is the parent's side: it starts the child, reads its lines in a thread and answers
"when did the first answer with this body come after time t?" and "how many requests started
between t0 and t1 were lost?".
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_IN_FLIGHT = 256
REQUEST_TIMEOUT = 1.0


@dataclass(slots=True)
class _Request:
    started: float
    deadline: float
    address: str
    sent: bool = False
    received: bytes = b""


class _Client:
    """The child's loop: every `interval`, a new GET to each address, up to MAX_IN_FLIGHT at
    once. With more than one address (one prober for several VIPs, bench/compare.py), each
    line ends with `@ADDRESS`."""

    def __init__(self, addresses: list[str], port: int, interval: float) -> None:
        self.addresses = addresses
        self.port = port
        self.tagged = len(addresses) > 1
        self.interval = interval
        self.sel = selectors.DefaultSelector()
        self.pending: dict[socket.socket, _Request] = {}
        self.next_start = time.monotonic()

    def report(self, body: str | None, started: float, address: str) -> None:
        """One line per request: its answer, or `!` and when the lost request started."""
        now = time.monotonic()
        line = f"{now:.6f} {body}" if body is not None else f"{now:.6f} ! {started:.6f}"
        sys.stdout.write(line + (f"@{address}\n" if self.tagged else "\n"))
        sys.stdout.flush()

    def finish(self, sock: socket.socket, body: str | None) -> None:
        self.sel.unregister(sock)
        request = self.pending.pop(sock)
        sock.close()
        self.report(body, request.started, request.address)

    def start_one(self, now: float) -> None:
        self.next_start = max(self.next_start + self.interval, now)
        for address in self.addresses:
            self._get(address, now)

    def _get(self, address: str, now: float) -> None:
        if len(self.pending) >= MAX_IN_FLIGHT:
            self.report(None, now, address)  # lost too: the client could not even try
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        if sock.connect_ex((address, self.port)) in (0, errno.EINPROGRESS):
            self.pending[sock] = _Request(now, now + REQUEST_TIMEOUT, address)
            self.sel.register(sock, selectors.EVENT_WRITE)
        else:
            sock.close()
            self.report(None, now, address)

    def ready(self, sock: socket.socket) -> None:
        """The socket is writable (connected: send) or readable (answer: read)."""
        state = self.pending[sock]
        try:
            if not state.sent:
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    self.finish(sock, None)
                    return
                sock.send(f"GET / HTTP/1.0\r\nHost: {state.address}\r\n"
                          "User-Agent: twinbeat-lab\r\n\r\n".encode())
                state.sent = True
                self.sel.modify(sock, selectors.EVENT_READ)
                return
            chunk = sock.recv(65536)
        except OSError:
            self.finish(sock, None)
            return
        if chunk:
            state.received += chunk
            return
        head, _, body = state.received.partition(b"\r\n\r\n")
        ok = head.startswith(b"HTTP/1.") and head[9:12] == b"200"
        self.finish(sock, body.decode(errors="replace").strip() if ok else None)

    def run(self) -> None:
        while True:
            now = time.monotonic()
            if now >= self.next_start:
                self.start_one(now)
            wake = min([self.next_start] + [r.deadline for r in self.pending.values()])
            for key, _mask in self.sel.select(max(0.0, wake - now)):
                self.ready(key.fileobj)  # type: ignore[arg-type]
            now = time.monotonic()
            for sock in [s for s, r in self.pending.items() if r.deadline <= now]:
                self.finish(sock, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m twinbeat.lab.poller")
    parser.add_argument("address", nargs="+")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--interval", type=float, default=0.005, help="seconds between GETs")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        _Client(args.address, args.port, args.interval).run()
    return 0


@dataclass(frozen=True, slots=True)
class Answer:
    time: float  # time.monotonic() in the poller when the request was complete (or given up)
    body: str | None  # None: the request was lost
    started: float | None = None  # when a lost request was started


class Poller:
    """The parent's side of a running poller child (see the module docstring).

    `stop` ends the child: the harness's stop policy when the lab started it (`Lab.poller`).
    """

    def __init__(
        self, process: subprocess.Popen[bytes], stop: Callable[[], object] | None = None
    ) -> None:
        self.process = process
        self._stop = stop
        self.answers: list[Answer] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, name="lab-poller", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            stamp, _, body = raw.decode(errors="replace").strip().partition(" ")
            if body.startswith("!"):  # "! STARTED" or, tagged, "! STARTED@ADDRESS"
                started = body[1:].split("@")[0].strip()
                answer = Answer(float(stamp), None, float(started or stamp))
            else:
                answer = Answer(float(stamp), body)
            with self._cond:
                self.answers.append(answer)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def first(self, body: str, after: float, timeout: float) -> float | None:
        """Time of the first answer saying `body` at or after `after`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        index = 0
        with self._cond:
            while True:
                while index < len(self.answers):
                    answer = self.answers[index]
                    index += 1
                    if answer.time >= after and answer.body == body:
                        return answer.time
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    return None
                self._cond.wait(remaining)

    def last_answer(self, before: float) -> Answer | None:
        """The last successful answer before `before` (to measure an outage's start)."""
        with self._cond:
            for answer in reversed(self.answers):
                if answer.time < before and answer.body is not None:
                    return answer
        return None

    def bodies_between(self, start: float, end: float) -> set[str]:
        with self._cond:
            return {a.body for a in self.answers if start <= a.time <= end and a.body}

    def answered(self, start: float, end: float) -> list[float]:
        """When each answer in [start, end] came (any body), in order."""
        with self._cond:
            return [a.time for a in self.answers if a.body and start <= a.time <= end]

    def lost(self, start: float, end: float) -> list[float]:
        """When each lost request started in [start, end] started (sorted).

        A request is given up REQUEST_TIMEOUT after it started: wait that long past `end`
        before asking, or the last ones are not known yet.
        """
        with self._cond:
            return sorted(
                a.started for a in self.answers
                if a.body is None and a.started is not None and start <= a.started <= end
            )

    def close(self) -> None:
        if self._stop is not None:
            self._stop()
        elif self.process.poll() is None:
            self.process.terminate()
        self.process.wait(5)
        self._thread.join(2)
        if self.process.stdout is not None:
            self.process.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
