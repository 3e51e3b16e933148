"""A junk sender for bench/flood.py: UDP datagrams at one address, as fast as one process can.

Run as a child process (`python -m twinbeat.lab.flood ADDRESS PORT PAYLOADS`) inside the lab's
flood namespace (`Lab.flood_host`). It cycles through the datagrams in the PAYLOADS file
(`write_payloads`: each a 2-byte big-endian length and the bytes) until `--duration` is over or
it gets SIGTERM, then prints one JSON line: `{"sent": N, "errors": N, "seconds": S}`.

Speed: a Python `sendto` per datagram is what limits a plain loop (about 90k datagrams/s
here), so the datagrams go out `BATCH` at a time through `sendmmsg(2)` (ctypes; Python has
no binding), and then the kernel's own path (veth, IP, UDP) is the limit. `--rate` caps the
rate instead, for measuring at a chosen load. Only 198.18.0.0/15 targets are accepted.
"""

from __future__ import annotations

import argparse
import ctypes
import ipaddress
import json
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

BATCH = 256  # datagrams per sendmmsg call
LAB_NETWORK = ipaddress.ip_network("198.18.0.0/15")


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p), ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.POINTER(_Iovec)), ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p), ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


def write_payloads(path: Path, payloads: Iterable[bytes]) -> None:
    """The PAYLOADS file the child reads."""
    path.write_bytes(b"".join(struct.pack(">H", len(p)) + p for p in payloads))


def read_payloads(path: Path) -> list[bytes]:
    data, payloads, at = path.read_bytes(), [], 0
    while at + 2 <= len(data):
        (n,) = struct.unpack_from(">H", data, at)
        payloads.append(data[at + 2 : at + 2 + n])
        at += 2 + n
    if not payloads:
        raise ValueError(f"{path}: no payloads")
    return payloads


class Sender:
    """`BATCH` prepared messages to one address, cycling through the payloads."""

    def __init__(self, address: str, port: int, payloads: Sequence[bytes]) -> None:
        if ipaddress.ip_address(address) not in LAB_NETWORK:
            raise ValueError(f"{address}: the lab sends to 198.18.0.0/15 only")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sendmmsg = ctypes.CDLL(None, use_errno=True).sendmmsg
        # struct sockaddr_in: family in host order, then port and address in network order.
        name = struct.pack("=H", socket.AF_INET) + struct.pack(
            "!H4s8x", port, socket.inet_aton(address))
        self._name = ctypes.create_string_buffer(name, len(name))
        self._buffers = [ctypes.create_string_buffer(p, len(p)) for p in payloads]
        self._iovecs = (_Iovec * BATCH)()
        self._msgs = (_Mmsghdr * BATCH)()
        for i in range(BATCH):
            buffer = self._buffers[i % len(self._buffers)]
            self._iovecs[i] = _Iovec(ctypes.cast(buffer, ctypes.c_void_p), len(buffer))
            hdr = self._msgs[i].msg_hdr
            hdr.msg_name = ctypes.cast(self._name, ctypes.c_void_p)
            hdr.msg_namelen = len(name)
            hdr.msg_iov = ctypes.pointer(self._iovecs[i])
            hdr.msg_iovlen = 1

    def burst(self, count: int = BATCH) -> int:
        """Send up to `count` (at most BATCH) datagrams; how many went, or -1 on an error."""
        return int(self._sendmmsg(self.sock.fileno(), self._msgs, min(count, BATCH), 0))


def flood(sender: Sender, duration: float, rate: float) -> dict[str, float]:
    stop = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    sent = errors = 0
    start = time.monotonic()
    end = start + duration
    while not stop and (now := time.monotonic()) < end:
        if rate > 0 and sent >= (now - start) * rate:
            time.sleep(min(BATCH / rate, 0.01))
            continue
        n = sender.burst()
        if n < 0:
            errors += 1  # e.g. ENOBUFS: the kernel will take more in a moment
            continue
        sent += n
    return {"sent": sent, "errors": errors, "seconds": time.monotonic() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("address")
    parser.add_argument("port", type=int)
    parser.add_argument("payloads", type=Path)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=0.0, help="datagrams/s (0: no cap)")
    args = parser.parse_args(argv)
    sender = Sender(args.address, args.port, read_payloads(args.payloads))
    print(json.dumps(flood(sender, args.duration, args.rate)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
