"""What the kernel drops on a UDP link's socket before it wakes the daemon.

Owns `program(own, trusted, sample)` and `attach(sock, ...)`: a classic BPF socket filter
(SO_ATTACH_FILTER) for one UDP socket. It

- drops every datagram whose IPv4 source is one of ours (`own`);
- passes every datagram from a source proven authentic on this link (`trusted`);
- and, once there is one, passes only one in `sample` datagrams from any other source,
  picked at random (the kernel's `ld rand`); with no trusted source, it passes them all.

Why the first: a `bcast` link's socket receives each heartbeat it sends (the kernel delivers a
broadcast to every socket bound to the port, the sender's included). The core ignores such a
frame (docs/core.md: our own name, not counted), but only after a wake-up, a recv, the MAC
check and a trip through the queues: at a 10 ms keepalive that was a third of the frames the
daemon read (issue #17).

Why the rest: a flood on the heartbeat port from a third host costs the daemon a recv per
datagram even when links/admission.py then drops it unread, and fills the socket's queue, so
the kernel drops the peer's heartbeats with the junk (bench/flood.py: 12 % of them at
120,000 junk datagrams a second, issue #11 item 4). Sampled in the kernel, such a flood wakes
the daemon for one datagram in `sample`; the peer's address, proven by its first authentic
frame, is never sampled. A peer that comes back from an address not yet proven is heard
within `sample` of its frames (links/udp.py says which addresses are trusted: admission.py's
proven sources, and a `ucast` line's peers).

A frame that slips through (our address changed since the filter was attached) is still
ignored by the core, as before; the filter only saves work. The program loads the IPv4
source at SKF_NET_OFF + 12 (the network header: the filter of a UDP socket sees its datagram
from the transport header on).
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
import struct
from collections.abc import Sequence

SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_ALU_AND_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K
SKF_NET_OFF = -0x100000
SKF_AD_RANDOM = (-0x1000 + 56) & 0xFFFFFFFF  # SKF_AD_OFF + SKF_AD_RANDOM: a random u32
IP_SOURCE = (SKF_NET_OFF + 12) & 0xFFFFFFFF
ACCEPT = 0xFFFFFFFF
DROP = 0
MAX_ADDRESSES = 200  # own + trusted: a jump offset is one byte


def program(own: Sequence[str], trusted: Sequence[str] = (), sample: int = 1) -> bytes:
    """The filter's instructions (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k).
    `sample` must be a power of two; 1 (or no trusted source) passes every other source."""
    if sample < 1 or sample & (sample - 1):
        raise ValueError(f"sample must be a power of two, not {sample}")
    ours = [int(ipaddress.IPv4Address(a)) for a in own][:MAX_ADDRESSES]
    theirs = [int(ipaddress.IPv4Address(a)) for a in trusted][:MAX_ADDRESSES - len(ours)]
    sampling = sample > 1 and bool(theirs)
    # Layout: load source; own checks; trusted checks; [sampling: 3]; ACCEPT; DROP.
    checks = len(ours) + len(theirs)
    tail = 3 if sampling else 0
    accept_at, drop_at = 1 + checks + tail, 2 + checks + tail
    code = [(BPF_LD_W_ABS, 0, 0, IP_SOURCE)]
    for address in ours:
        code.append((BPF_JEQ_K, drop_at - len(code) - 1, 0, address))
    for address in theirs:
        code.append((BPF_JEQ_K, accept_at - len(code) - 1, 0, address))
    if sampling:
        code.append((BPF_LD_W_ABS, 0, 0, SKF_AD_RANDOM))
        code.append((BPF_ALU_AND_K, 0, 0, sample - 1))
        code.append((BPF_JEQ_K, 0, 1, 0))  # zero: on to ACCEPT; else skip it to DROP
    code.append((BPF_RET_K, 0, 0, ACCEPT))
    code.append((BPF_RET_K, 0, 0, DROP))
    return b"".join(struct.pack("=HBBI", *insn) for insn in code)


def attach(sock: socket.socket, own: Sequence[str], trusted: Sequence[str] = (),
           sample: int = 1) -> None:
    """Attach (or replace: the kernel swaps it atomically) the filter on `sock`. Raises
    OSError if the kernel refuses it; the caller may go on without it (it only saves work)."""
    code = program(own, trusted, sample)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HL", len(code) // 8, ctypes.addressof(buffer))  # struct sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)  # the kernel copies it


def drop_own_source(sock: socket.socket, addresses: Sequence[str]) -> None:
    """Only our own broadcasts dropped (nothing to do without addresses)."""
    if addresses:
        attach(sock, addresses)
