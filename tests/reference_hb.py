"""Pure-Python reference for heartbeat 3.0.6 messages, written from docs/protocol.md §heartbeat
3.0.6 messages and the heartbeat reference (no twinbeat imports).

It is the oracle for the differential tests of the C codec (tests/unit/wire/test_hb_oracle.py)
and the fuzz runs: same verdict, same reason, same fields. Written to be obviously right:
bytes are split, not scanned, and the crc is computed bit by bit.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from dataclasses import dataclass

MAX_MSG = 4096
MAX_FIELDS = 64
MAX_NAME = 64
MAX_DIGEST = 40
SPECIAL_SYM = b"\x13"
_NAME = re.compile(rb"[\x21-\x3c\x3e-\x7e]{1,64}")  # printable, no space, no "="
_AUTH = re.compile(rb"(0|[1-9][0-9]?) ([0-9a-f]{1,40})")
_LENGTH = re.compile(rb"([1-9][0-9]{0,3}):")


class RefHbError(Exception):
    """A refused message; the reason as in docs/protocol.md."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RefHbMessage:
    fields: tuple[tuple[bytes, bytes, bool], ...]  # (name, value, binary)
    form: str
    key_index: int


def hb_crc(data: bytes) -> int:
    """heartbeat's crc: polynomial 0x04C11DB7, MSB first, from 0, inverted; bit by bit."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc ^ 0xFFFFFFFF


def digest(method: str, key: bytes | None, data: bytes) -> str:
    """heartbeat's digest text: lower-case hex, crc with %lx (no leading zeros)."""
    if method == "crc":
        return f"{hb_crc(data):x}"
    if method in ("md5", "sha1"):
        assert key
        return hmac.new(key, data, method).hexdigest()
    raise RefHbError("key")  # heartbeat has no sha256


def _name_ok(name: bytes) -> bool:
    return _NAME.fullmatch(name) is not None and not name.startswith(b"(")


def _check_field(name: bytes, value: bytes, binary: bool, classic: bool, count: int) -> None:
    if count >= MAX_FIELDS or not _name_ok(name) or not value:
        raise RefHbError("field")
    if not binary and (b"\x00" in value or (classic and b"\r" in value)):
        raise RefHbError("field")


class _Fields:
    """Collects fields in order and checks the auth field's rules as it goes."""

    def __init__(self, classic: bool) -> None:
        self.classic = classic
        self.items: list[tuple[bytes, bytes, bool]] = []
        self.auth_index: int | None = None
        self.auth: tuple[int, str] | None = None

    def add(self, name: bytes, value: bytes, binary: bool) -> None:
        _check_field(name, value, binary, self.classic, len(self.items))
        if binary and self.classic:
            value = _b64decode(value)
        elif self.classic:
            value = value.replace(SPECIAL_SYM, b"\n")
        self.items.append((name, value, binary))
        if name == b"auth":
            if binary or self.auth_index is not None:
                raise RefHbError("field")
            self.auth_index = len(self.items) - 1
            if self.classic:
                self.auth = parse_auth(value)


def _b64decode(text: bytes) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise RefHbError("field") from None
    if not raw or base64.b64encode(raw) != text:  # canonical only
        raise RefHbError("field")
    return raw


def parse_auth(text: bytes) -> tuple[int, str]:
    m = _AUTH.fullmatch(text)
    if m is None:
        raise RefHbError("syntax")
    return int(m.group(1)), m.group(2).decode()


def _key(keys: dict[int, tuple[str, bytes | None]], slot: int) -> tuple[str, bytes | None]:
    if slot not in keys or keys[slot][0] not in ("md5", "sha1", "crc"):
        raise RefHbError("key")
    return keys[slot]


def decode(data: bytes, keys: dict[int, tuple[str, bytes | None]]) -> RefHbMessage:
    if len(data) > MAX_MSG:
        raise RefHbError("oversize")
    if data[:4] == b"###\n":
        return _decode_netstring(data, keys)
    if data[:4] == b">>>\n":
        return _decode_classic(data, keys)
    raise RefHbError("magic")


def _peel(data: bytes, pos: int) -> tuple[bytes, int]:
    m = _LENGTH.match(data, pos)
    if m is None:
        raise RefHbError("syntax")
    start = m.end()
    end = start + int(m.group(1))
    if end >= len(data) or data[end : end + 1] != b",":
        raise RefHbError("syntax")
    return data[start:end], end + 1


def _decode_netstring(data: bytes, keys: dict[int, tuple[str, bytes | None]]) -> RefHbMessage:
    fields = _Fields(classic=False)
    pos = 4
    while data[pos : pos + 4] != b"%%%\n":
        payload, pos = _peel(data, pos)
        if len(payload) < 5 or payload[:1] != b"(" or payload[2:3] != b")":
            raise RefHbError("syntax")
        if payload[1:2] not in (b"0", b"1"):
            raise RefHbError("field")
        if b"=" not in payload[3:]:
            raise RefHbError("syntax")
        name, value = payload[3:].split(b"=", 1)
        fields.add(name, value, payload[1:2] == b"1")
    body = data[: pos + 4]
    if not fields.items:
        raise RefHbError("syntax")
    trailer, end = _peel(data, pos + 4)
    if end != len(data):
        raise RefHbError("syntax")
    slot, hexdigest = parse_auth(trailer)
    method, key = _key(keys, slot)
    if digest(method, key, body) != hexdigest:
        raise RefHbError("mac")
    return RefHbMessage(tuple(fields.items), "netstring", slot)


def _decode_classic(data: bytes, keys: dict[int, tuple[str, bytes | None]]) -> RefHbMessage:
    fields = _Fields(classic=True)
    covered = b""  # every field's line but auth's, each with its "\n"
    rest = data[4:]
    while True:
        rest = rest.lstrip(b"\n")  # blank lines are skipped
        if b"\n" not in rest:
            raise RefHbError("syntax")
        line, rest = rest.split(b"\n", 1)
        if line == b"<<<":
            break
        if b"\x00" in line or b"=" not in line:
            raise RefHbError("field")
        name, value = line.split(b"=", 1)
        binary = name.startswith(b"(")
        if binary:
            if len(name) < 4 or name[:3] != b"(1)":
                raise RefHbError("field")
            name = name[3:]
        fields.add(name, value, binary)
        if name != b"auth":
            covered += line + b"\n"
    if rest or fields.auth is None:
        raise RefHbError("syntax")
    slot, hexdigest = fields.auth
    method, key = _key(keys, slot)
    if digest(method, key, covered) != hexdigest:
        raise RefHbError("mac")
    return RefHbMessage(tuple(fields.items), "classic", slot)


# --------------------------------------------------------------------------- encoding


def classic_line(name: bytes, value: bytes, binary: bool) -> bytes:
    if binary:
        return b"(1)" + name + b"=" + base64.b64encode(value) + b"\n"
    return name + b"=" + value.replace(b"\n", SPECIAL_SYM) + b"\n"


def _auth_value(fields: list[tuple[bytes, bytes, bool]], slot: int,
                keys: dict[int, tuple[str, bytes | None]]) -> bytes:
    method, key = keys[slot]
    text = b"".join(classic_line(*f) for f in fields if f[0] != b"auth")
    return f"{slot} {digest(method, key, text)}".encode()


def _with_auth(fields: list[tuple[bytes, bytes, bool]], auth: bytes,
               append: bool) -> list[tuple[bytes, bytes, bool]]:
    out = [(n, auth, False) if n == b"auth" else (n, v, b) for n, v, b in fields]
    if append and not any(n == b"auth" for n, _, _ in fields):
        out.append((b"auth", auth, False))
    return out


def encode_classic(fields: list[tuple[bytes, bytes, bool]], slot: int,
                   keys: dict[int, tuple[str, bytes | None]]) -> bytes:
    auth = _auth_value(fields, slot, keys)
    lines = b"".join(classic_line(*f) for f in _with_auth(fields, auth, True))
    return b">>>\n" + lines + b"<<<\n"


def encode_netstring(fields: list[tuple[bytes, bytes, bool]], slot: int,
                     keys: dict[int, tuple[str, bytes | None]], inner_auth: bool = True) -> bytes:
    auth = _auth_value(fields, slot, keys)
    body = b"###\n"
    for name, value, binary in _with_auth(fields, auth, inner_auth):
        payload = (b"(1)" if binary else b"(0)") + name + b"=" + value
        body += str(len(payload)).encode() + b":" + payload + b","
    body += b"%%%\n"
    method, key = keys[slot]
    trailer = f"{slot} {digest(method, key, body)}".encode()
    return body + str(len(trailer)).encode() + b":" + trailer + b","
