"""Heartbeat gaps on the wire, for bench/compare.py's jitter windows (issue #17).

Run as a child inside a node's namespace (`python bench/wiregaps.py SRC SECONDS IFACE...`):
it opens one AF_PACKET socket per interface and, for `SECONDS`, notes the kernel's receive
time (SO_TIMESTAMPNS: when the frame reached this host, whatever this process's scheduling)
of every IPv4 packet from SRC-on-that-interface that is a twinbeat heartbeat (UDP to port
694) or a VRRP advert (IP protocol 112). It prints one JSON object: for each kind, the gaps
between consecutive packets, in ms. The gaps are the *sender's* cadence as the wire saw it:
a daemon that was held off the CPU sends late, and the gap shows it.

SRC is `ADDR@IFACE,ADDR@IFACE` (twinbeat's source on eth1, keepalived's on eth0).
"""

from __future__ import annotations

import itertools
import json
import select
import socket
import struct
import sys
import time

ETH_P_IP = 0x0800
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
HEARTBEAT_PORT = 694
VRRP = 112


def kind(packet: bytes, sources: set[bytes]) -> str | None:
    """'twinbeat', 'keepalived' or None for an Ethernet frame."""
    if len(packet) < 34 or packet[12:14] != b"\x08\x00":
        return None
    ip = packet[14:]
    if ip[12:16] not in sources:
        return None
    proto, header = ip[9], (ip[0] & 0x0F) * 4
    if proto == VRRP:
        return "keepalived"
    if proto == 17 and len(ip) >= header + 4:
        (port,) = struct.unpack("!H", ip[header + 2:header + 4])
        return "twinbeat" if port == HEARTBEAT_PORT else None
    return None


def capture(sources: dict[str, bytes], seconds: float) -> dict[str, list[float]]:
    socks = {}
    for iface, source in sources.items():
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        sock.bind((iface, 0))
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        socks[sock.fileno()] = (sock, {source})
    seen: dict[str, list[float]] = {"twinbeat": [], "keepalived": []}
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        for fd, _ in _ready(socks, left):
            sock, src = socks[fd]
            data, ancdata, _flags, _addr = sock.recvmsg(2048, socket.CMSG_SPACE(16))
            what = kind(data, src)
            if what is None:
                continue
            stamp = next((struct.unpack("=qq", d[:16]) for lvl, typ, d in ancdata
                          if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS), None)
            seen[what].append(stamp[0] + stamp[1] / 1e9 if stamp else time.time())
    return {k: [1000 * (b - a) for a, b in itertools.pairwise(v)] for k, v in seen.items()}


def _ready(socks: dict[int, object], timeout: float) -> list[tuple[int, int]]:
    poller = select.poll()
    for fd in socks:
        poller.register(fd, select.POLLIN)
    return poller.poll(int(timeout * 1000) + 1)


def main() -> int:
    src, seconds = sys.argv[1], float(sys.argv[2])
    sources = {}
    for item in src.split(","):
        address, _, iface = item.partition("@")
        sources[iface] = socket.inet_aton(address)
    print(json.dumps(capture(sources, seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
