"""The floor under an idle daemon's CPU on this machine: trio waking as twinbeat does.

Not a test: it measures. A trio program that does nothing but wake up as a twinbeat node at
a 10 ms keepalive does — a 10 ms timer and two datagram sockets each written 100 times a
second by a second process (the peer's frames on two links) — and its CPU over `--seconds`
(utime + stime of that process only). bench/idle.py and bench/compare.py report the daemon's
own; the difference is the daemon's work, this is what trio costs before any.

Run:  .venv/bin/python bench/trio_floor.py --seconds 30
"""

from __future__ import annotations

import argparse
import os
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    links = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(2)]
    pid = os.fork()
    if pid == 0:  # the peer: 100 frames a second on each link
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            for _mine, theirs in links:
                theirs.send(b"x" * 54)
            time.sleep(TICK)
        os._exit(0)
    for mine, _ in links:
        mine.setblocking(False)
    t0, c0 = time.monotonic(), time.process_time()
    trio.run(node, links[0][0], links[1][0], args.seconds)
    cpu = 100 * (time.process_time() - c0) / (time.monotonic() - t0)
    os.waitpid(pid, 0)
    print(f"trio floor: {cpu:.2f} % of one core (a 10 ms timer + 2 x 100 datagrams/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
