"""The client's view: HTTP GETs on the VIP every few milliseconds, from the client namespace.

Run as a child process (`python -m twinbeat.lab.poller ADDRESS`) inside `<name>-client`; it
prints one line per successful answer, `<monotonic seconds> <body>`, and `<monotonic> !` once
at the start of each run of failures. CLOCK_MONOTONIC is system-wide, so the parent compares
these times with its own `time.monotonic()` at the moment it injected a fault.

Requests overlap: a new connection starts every interval whatever the older ones are doing,
so a SYN stuck behind a stale ARP entry (the old holder's MAC) does not hide the first answer
from the new holder; the resolution is the interval, not a connect timeout.

`Poller` is the parent's side: it starts the child, reads its lines in a thread and answers
"when did the first answer with this body come after time t?".
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
from dataclasses import dataclass

MAX_IN_FLIGHT = 64
REQUEST_TIMEOUT = 1.0


def _poll_forever(address: str, port: int, interval: float) -> None:
    request = f"GET / HTTP/1.0\r\nHost: {address}\r\nUser-Agent: twinbeat-lab\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    pending: dict[socket.socket, list] = {}  # sock -> [deadline, sent, received bytes]
    failing = False
    next_start = time.monotonic()
    out = sys.stdout

    def report(ok_body: str | None) -> None:
        nonlocal failing
        now = time.monotonic()
        if ok_body is not None:
            failing = False
            out.write(f"{now:.6f} {ok_body}\n")
            out.flush()
        elif not failing:
            failing = True
            out.write(f"{now:.6f} !\n")
            out.flush()

    def finish(sock: socket.socket, ok_body: str | None) -> None:
        sel.unregister(sock)
        del pending[sock]
        sock.close()
        report(ok_body)

    while True:
        now = time.monotonic()
        if now >= next_start:
            next_start = max(next_start + interval, now)
            if len(pending) < MAX_IN_FLIGHT:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                err = sock.connect_ex((address, port))
                if err in (0, errno.EINPROGRESS):
                    pending[sock] = [now + REQUEST_TIMEOUT, False, b""]
                    sel.register(sock, selectors.EVENT_WRITE)
                else:
                    sock.close()
                    report(None)
        timeout = max(0.0, min([next_start] + [p[0] for p in pending.values()]) - now)
        for key, _mask in sel.select(timeout):
            sock = key.fileobj  # type: ignore[assignment]
            state = pending[sock]
            try:
                if not state[1]:
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        finish(sock, None)
                        continue
                    sock.send(request)
                    state[1] = True
                    sel.modify(sock, selectors.EVENT_READ)
                    continue
                chunk = sock.recv(65536)
            except OSError:
                finish(sock, None)
                continue
            if chunk:
                state[2] += chunk
                continue
            head, _, body = state[2].partition(b"\r\n\r\n")
            ok = head.startswith(b"HTTP/1.") and head[9:12] == b"200"
            finish(sock, body.decode(errors="replace").strip() if ok else None)
        now = time.monotonic()
        for sock in [s for s, p in pending.items() if p[0] <= now]:
            finish(sock, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m twinbeat.lab.poller")
    parser.add_argument("address")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--interval", type=float, default=0.005, help="seconds between GETs")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        _poll_forever(args.address, args.port, args.interval)
    return 0


@dataclass(frozen=True, slots=True)
class Answer:
    time: float  # time.monotonic() in the poller when the answer was complete
    body: str | None  # None: the first of a run of failures


class Poller:
    """The parent's side of a running poller child (see the module docstring)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.answers: list[Answer] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, name="lab-poller", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            stamp, _, body = raw.decode(errors="replace").strip().partition(" ")
            answer = Answer(float(stamp), None if body == "!" else body)
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

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(2)
        self._thread.join(2)
        if self.process.stdout is not None:
            self.process.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
