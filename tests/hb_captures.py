"""Readers for the real heartbeat 3.0.6 traffic in tests/data/heartbeat-captures (golden vectors).

Two nodes, prime and calc, ran Debian's heartbeat 3.0.6 (cluster-glue 1.0.12) three times,
once per auth method; the key is the ASCII token `hb-lab-secret` (README.md there). Each
run left a classic libpcap file of UDP port 694 (one heartbeat message per datagram) and a
`socat -x -v` dump of the null-modem pty pair (hex rows with direction and timestamps).
These readers are deliberately small and strict: a capture they cannot read exactly fails
the tests instead of being half-read.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

CAPTURES = Path(__file__).resolve().parent / "data" / "heartbeat-captures"
METHODS = ("md5", "sha1", "crc")
HB_PORT = 694

_PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",  # microseconds
               b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">"}  # nanoseconds
_LINKTYPE_ETHERNET = 1
_ETH_IPV4 = 0x0800
_ETH_VLAN = 0x8100
_IPPROTO_UDP = 17


def authkeys(method: str) -> tuple[dict[int, tuple[str, bytes | None]], int]:
    """The run's authkeys as (slots for `wire.Keyring`, the `auth` slot)."""
    keys: dict[int, tuple[str, bytes | None]] = {}
    active = None
    for line in (CAPTURES / f"authkeys-{method}").read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "auth":
            active = int(words[1])
        else:
            keys[int(words[0])] = (words[1], words[2].encode() if len(words) > 2 else None)
    assert active is not None and active in keys
    return keys, active


@dataclass(frozen=True)
class Datagram:
    time: float
    src: str
    dst: str
    sport: int
    dport: int
    payload: bytes


def pcap_datagrams(path: Path) -> list[Datagram]:
    """Every UDP datagram to or from port 694 in a classic (not -ng) Ethernet pcap."""
    data = path.read_bytes()
    order = _PCAP_MAGIC[data[:4]]
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    *_, linktype = struct.unpack(order + "HHiIII", data[4:24])
    assert linktype == _LINKTYPE_ETHERNET, f"{path}: link type {linktype}"
    found, pos = [], 24
    while pos < len(data):
        sec, frac, incl, orig = struct.unpack(order + "IIII", data[pos : pos + 16])
        frame = data[pos + 16 : pos + 16 + incl]
        assert len(frame) == incl == orig, f"{path}: truncated record at {pos}"
        pos += 16 + incl
        datagram = _udp(frame, sec + frac / (1e9 if nano else 1e6))
        if datagram is not None and HB_PORT in (datagram.sport, datagram.dport):
            found.append(datagram)
    return found


def _udp(frame: bytes, time: float) -> Datagram | None:
    offset = 12
    (ethertype,) = struct.unpack("!H", frame[offset : offset + 2])
    if ethertype == _ETH_VLAN:
        offset += 4
        (ethertype,) = struct.unpack("!H", frame[offset : offset + 2])
    ip = frame[offset + 2 :]
    if ethertype != _ETH_IPV4 or ip[0] >> 4 != 4 or ip[9] != _IPPROTO_UDP:
        return None
    header = (ip[0] & 0x0F) * 4
    (total,) = struct.unpack("!H", ip[2:4])
    flags_fragment = struct.unpack("!H", ip[6:8])[0]
    assert flags_fragment & 0x3FFF == 0, "fragmented datagram"
    udp = ip[header:total]
    sport, dport, length = struct.unpack("!HHH", udp[:6])
    assert length == len(udp), "UDP length does not match the IP packet"
    src, dst = (".".join(str(b) for b in ip[i : i + 4]) for i in (12, 16))
    return Datagram(time, src, dst, sport, dport, udp[8:])


@dataclass(frozen=True)
class Chunk:
    """One read socat reported: the direction ('>' or '<'), when, and the bytes."""

    direction: str
    stamp: str
    data: bytes


_HEADER = re.compile(r"([<>]) (\S+ \S+)\s+length=(\d+) from=\d+ to=\d+$")
_HEX_COLUMNS = 49  # " " + 16 x "xx ": the text rendering follows


def socat_chunks(path: Path) -> list[Chunk]:
    """The chunks of a `socat -x -v` dump, each checked against its header's length."""
    chunks: list[Chunk] = []
    head: re.Match[str] | None = None
    data = bytearray()

    def close() -> None:
        if head is not None:
            assert len(data) == int(head.group(3)), f"{path}: chunk {head.group(2)} length"
            chunks.append(Chunk(head.group(1), head.group(2), bytes(data)))

    for line in path.read_text(encoding="latin-1").splitlines():
        if line == "--":
            continue
        match = _HEADER.match(line)
        if match is not None:
            close()
            head, data = match, bytearray()
        elif line.startswith(" ") and head is not None:
            data += bytes.fromhex(line[:_HEX_COLUMNS])
        else:
            raise AssertionError(f"{path}: unexpected line {line!r}")
    close()
    return chunks


def serial_streams(path: Path) -> dict[str, list[bytes]]:
    """The chunks of each direction in order: what a reader of that pty end got per read."""
    streams: dict[str, list[bytes]] = {">": [], "<": []}
    for chunk in socat_chunks(path):
        streams[chunk.direction].append(chunk.data)
    return streams
