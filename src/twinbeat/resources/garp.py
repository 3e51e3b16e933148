"""Gratuitous ARP over an `AF_PACKET` socket: tell the LAN which MAC now holds an address.

Owns building the two frame forms that heartbeat's `send_arp` and keepalived send (an ARP
request and an ARP reply, both with sender IP = target IP = the VIP, to Ethernet broadcast),
so both old and picky neighbours update their caches. The socket is opened once per agent
(opening costs ~20 ms, a send ~2 µs, DESIGN.md §9) with protocol 0, so it never receives.
Debian's `arping` is not iputils', which is one reason not to shell out.
"""

from __future__ import annotations

import re
import socket
import struct
from typing import Any

ETH_P_ARP = 0x0806
BROADCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
ARP_REQUEST = 1
ARP_REPLY = 2
ETH_MIN_FRAME = 60  # without FCS; real NICs pad, veth does not: pad ourselves
ARPHRD_ETHER = 1  # <linux/if_arp.h>: the link types whose frames garp_frame builds
IFF_NOARP = 0x80  # <linux/if.h>: `ip link set DEV arp off`
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}", re.IGNORECASE)


def mac_bytes(mac: str) -> bytes:
    """'02:00:00:00:00:01' -> 6 bytes; ValueError for anything else."""
    if not _MAC.fullmatch(mac):
        raise ValueError(f"not an Ethernet address: {mac!r}")
    return bytes.fromhex(mac.replace(":", ""))


def arp_address(link: Any) -> tuple[str | None, str]:
    """(the MAC to announce from, "") for an interface that does ARP; else (None, why not).

    `link` is the interface's netlink message (pyroute2 `get_links`). Gratuitous ARP only
    means something on an Ethernet-type link with ARP on: tun devices have no link-layer
    address at all (pyroute2 gives None), IP tunnels have a 4-byte one, loopback an all-zero
    one, and a NOARP interface has neighbours that never ask.
    """
    mac = link.get("address")
    if link.get("ifi_type") != ARPHRD_ETHER or not isinstance(mac, str) or \
            not _MAC.fullmatch(mac) or mac == "00:00:00:00:00:00":
        return None, "no Ethernet address"
    if link.get("flags", 0) & IFF_NOARP:
        return None, "ARP is off (NOARP)"
    return mac, ""


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
        self.mac = mac
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
