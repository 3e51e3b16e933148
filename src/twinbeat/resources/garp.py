"""Gratuitous ARP over an `AF_PACKET` socket: tell the LAN which MAC now holds an address.

Owns building the two frame forms that heartbeat's `send_arp` and keepalived send (an ARP
request and an ARP reply, both with sender IP = target IP = the VIP, to Ethernet broadcast),
so both old and picky neighbours update their caches. The socket is opened once per agent
(opening costs ~20 ms, a send ~2 µs, DESIGN.md §9) with protocol 0, so it never receives.
Debian's `arping` is not iputils', which is one reason not to shell out.
"""

from __future__ import annotations

import socket
import struct

ETH_P_ARP = 0x0806
BROADCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
ARP_REQUEST = 1
ARP_REPLY = 2
ETH_MIN_FRAME = 60  # without FCS; real NICs pad, veth does not: pad ourselves


def mac_bytes(mac: str) -> bytes:
    """'02:00:00:00:00:01' -> 6 bytes."""
    return bytes(int(part, 16) for part in mac.split(":"))


def garp_frame(mac: bytes, address: str, op: int) -> bytes:
    """One broadcast Ethernet frame carrying a gratuitous ARP for `address` at `mac`."""
    ip = socket.inet_aton(address)
    target_mac = ZERO_MAC if op == ARP_REQUEST else BROADCAST_MAC
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, mac, ip, target_mac, ip)
    frame = BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP) + arp
    return frame.ljust(ETH_MIN_FRAME, b"\x00")


class GarpSender:
    """A send-only packet socket on one interface, pre-built frames for one address."""

    def __init__(self, ifname: str, mac: str, address: str) -> None:
        self.ifname = ifname
        self.address = address
        mac_raw = mac_bytes(mac)
        self._frames = (garp_frame(mac_raw, address, ARP_REQUEST),
                        garp_frame(mac_raw, address, ARP_REPLY))
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            self._sock.setblocking(False)
            self._sock.bind((ifname, 0))
        except BaseException:
            self._sock.close()
            raise

    def send(self) -> None:
        """Send the request and the reply form once; raises OSError (e.g. ENETDOWN)."""
        for frame in self._frames:
            self._sock.send(frame)

    def close(self) -> None:
        self._sock.close()
