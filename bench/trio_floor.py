"""The floor under an idle daemon's CPU on this machine: trio waking as twinbeat does.

Not a test: it measures. A trio program that does nothing but wake up as a twinbeat node at
a 10 ms keepalive does — a 10 ms timer and two datagram sockets each written 100 times a
second by a second process (the peer's frames on two links) — and its CPU over `--seconds`
(utime + stime of that process only). bench/idle.py and bench/compare.py report the daemon's
own; the difference is the daemon's work, this is what trio costs before any. The same
wake-ups in plain Python (one `select.epoll` loop, no trio) are measured next to it: what any
Python daemon pays on this machine before it does anything (issue #17's 1.5 % goal).

Run:  .venv/bin/python bench/trio_floor.py --seconds 30
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import sys
import time

import trio

TICK = 0.01


async def node(a: socket.socket, b: socket.socket, seconds: float) -> None:
    async def reader(sock: socket.socket) -> None:
        while True:
            await trio.lowlevel.wait_readable(sock)
            while True:
                try:
                    sock.recv(512)
                except BlockingIOError:
                    break

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader, a)
        nursery.start_soon(reader, b)
        end = trio.current_time() + seconds
        while trio.current_time() < end:
            await trio.sleep(TICK)
        nursery.cancel_scope.cancel()


def plain(a: socket.socket, b: socket.socket, seconds: float) -> None:
    """The same wake-ups without trio: one epoll loop, the timer as its timeout."""
    ready = select.epoll()
    socks = {a.fileno(): a, b.fileno(): b}
    for fd in socks:
        ready.register(fd, select.EPOLLIN)
    end = time.monotonic() + seconds
    tick = time.monotonic() + TICK
    while time.monotonic() < end:
        for fd, _mask in ready.poll(max(0.0, tick - time.monotonic())):
            while True:
                try:
                    socks[fd].recv(512)
                except BlockingIOError:
                    break
        if time.monotonic() >= tick:
            tick += TICK
    ready.close()


def floor(seconds: float, loop: str) -> float:
    """CPU % of one core of this process, waking as a node does, under `loop`."""
    links = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(2)]
    pid = os.fork()
    if pid == 0:  # the peer: 100 frames a second on each link
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for _mine, theirs in links:
                theirs.send(b"x" * 54)
            time.sleep(TICK)
        os._exit(0)
    for mine, _ in links:
        mine.setblocking(False)
    t0, c0 = time.monotonic(), time.process_time()
    if loop == "trio":
        trio.run(node, links[0][0], links[1][0], seconds)
    else:
        plain(links[0][0], links[1][0], seconds)
    cpu = 100 * (time.process_time() - c0) / (time.monotonic() - t0)
    os.waitpid(pid, 0)
    for pair in links:
        for sock in pair:
            sock.close()
    return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    for loop, label in (("trio", "trio floor"), ("plain", "plain Python epoll floor")):
        cpu = floor(args.seconds, loop)
        print(f"{label}: {cpu:.2f} % of one core (a 10 ms timer + 2 x 100 datagrams/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
