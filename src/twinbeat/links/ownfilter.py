"""Our own broadcasts, dropped in the kernel before they wake the daemon.

Owns `drop_own_source(sock, addresses)`: a classic BPF socket filter (SO_ATTACH_FILTER) that
discards, on one UDP socket, every datagram whose IPv4 source is one of `addresses`.

Why: a `bcast` link's socket receives each heartbeat it sends (the kernel delivers a
broadcast to every socket bound to the port, the sender's included). The core ignores such a
frame (docs/core.md: our own name, not counted), but only after a wake-up, a recv, the MAC
check and a trip through the queues: at a 10 ms keepalive that was a third of the frames the
daemon read (issue #17). The filter costs a few instructions per datagram in the kernel. A
frame that slips through (our address changed since the link was opened) is still ignored
by the core, as before.

The program: load the IPv4 source (SKF_NET_OFF + 12: the network header, as the filter of a
UDP socket sees its datagram from the transport header on), compare it with each address,
and return 0 (drop) on a match, else the whole datagram.
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
import struct
from collections.abc import Sequence

SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K
SKF_NET_OFF = -0x100000
IP_SOURCE = (SKF_NET_OFF + 12) & 0xFFFFFFFF
ACCEPT = 0xFFFFFFFF
MAX_ADDRESSES = 200  # a jump offset is one byte


def program(addresses: Sequence[str]) -> bytes:
    """The filter's instructions (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k)."""
    ours = [int(ipaddress.IPv4Address(a)) for a in addresses][:MAX_ADDRESSES]
    n = len(ours)
    code = [struct.pack("=HBBI", BPF_LD_W_ABS, 0, 0, IP_SOURCE)]
    for i, address in enumerate(ours):
        # On a match jump to the final "drop" (n - i past the next instruction's "accept").
        code.append(struct.pack("=HBBI", BPF_JEQ_K, n - i, 0, address))
    code.append(struct.pack("=HBBI", BPF_RET_K, 0, 0, ACCEPT))
    code.append(struct.pack("=HBBI", BPF_RET_K, 0, 0, 0))
    return b"".join(code)


def drop_own_source(sock: socket.socket, addresses: Sequence[str]) -> None:
    """Attach the filter to `sock` (nothing to do without addresses). Raises OSError if the
    kernel refuses it; the caller may go on without it (the core ignores our frames)."""
    if not addresses:
        return
    code = program(addresses)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HL", len(code) // 8, ctypes.addressof(buffer))  # struct sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)  # the kernel copies it
