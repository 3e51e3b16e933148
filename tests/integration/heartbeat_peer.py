"""A stand-in for a node running heartbeat 3.0.6: its status messages, as heartbeat sends them.

Run as a program (tests/integration/test_mixed_cluster.py starts it in calc's namespace):
every keepalive one `t=status` message with heartbeat's fields and order (reference §1.6,
§3.1), a new sequence number each time, signed with the authkeys key: netstring to UDP port
694 of `--udp`, classic text into the serial line `--tty`. It runs until it is stopped.

    python heartbeat_peer.py --udp 198.18.100.1 --tty /path/calc.tty --key KEY [--keepalive S]
"""

from __future__ import annotations

import argparse
import os
import socket
import time

from twinbeat import wire


def status(seq: int, generation: int, started: float) -> list[wire.HbField]:
    f = wire.HbField
    st = b"up" if time.monotonic() - started < 2 else b"active"
    return [f(b"t", b"status"), f(b"st", st), f(b"dt", b"7d0"), f(b"protocol", b"1"),
            f(b"src", b"calc"), f(b"srcuuid", bytes(range(16)), True), f(b"seq", b"%x" % seq),
            f(b"hg", b"%x" % generation), f(b"ts", b"%x" % int(time.time())),
            f(b"ld", b"0.00 0.01 0.05 1/100 4242"), f(b"ttl", b"3")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--udp", required=True)
    parser.add_argument("--tty", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--keepalive", type=float, default=0.1)
    parser.add_argument("--generation", type=int, default=int(time.time()))
    args = parser.parse_args()
    ring = wire.Keyring({1: ("md5", args.key.encode())}, 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tty = os.open(args.tty, os.O_WRONLY | os.O_NOCTTY)
    started = time.monotonic()
    seq = 0
    while True:
        seq += 1
        fields = status(seq, args.generation, started)
        sock.sendto(wire.hb_encode_netstring(fields, ring), (args.udp, 694))
        os.write(tty, wire.hb_encode_classic(fields, ring))
        time.sleep(args.keepalive)


if __name__ == "__main__":
    main()
