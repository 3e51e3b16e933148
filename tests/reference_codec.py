"""Pure-Python reference codec, written from docs/protocol.md alone (no twinbeat imports).

It is the oracle for the differential tests in tests/unit/wire and the baseline for
bench/codec.py, so it is written to be obviously right first and reasonably quick second
(precomputed HMAC objects, one struct call per frame).
"""

from __future__ import annotations

import hmac
import struct
import zlib
from dataclasses import dataclass

MAX_FRAME = 256
MIN_FRAME = 37
MAC_LEN = {"sha256": 16, "sha1": 20, "md5": 16, "crc": 4}
_FIXED = struct.Struct(">IIIIIHBBBB")  # fingerprint .. group count: 26 bytes
_HEAD = 6


class RefError(Exception):
    """A rejected frame; reason as in docs/protocol.md §Rejections."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RefFrame:
    sender: str
    fingerprint: int
    generation: int
    sequence: int
    timestamp_ms: int
    echo_ms: int
    echo_delay_ms: int
    link_id: int
    node_state: int
    node_flags: int
    groups: bytes
    key_index: int


class RefKey:
    """One authkeys slot: a method and a pre-keyed HMAC object (copied per frame)."""

    def __init__(self, method: str, key: bytes | None) -> None:
        self.method = method
        self.mac_len = MAC_LEN[method]
        self._hmac = None if method == "crc" else hmac.new(key or b"", digestmod=method)

    def mac(self, body: bytes) -> bytes:
        if self._hmac is None:
            return zlib.crc32(body).to_bytes(4, "big")
        h = self._hmac.copy()
        h.update(body)
        return h.digest()[: self.mac_len]


def make_keys(keys: dict[int, tuple[str, bytes | None]], active: int) -> dict[int, RefKey]:
    """The receiver's slots. Every slot verifies, so (docs/protocol.md §Keys) a crc slot
    beside a keyed active slot is refused with ValueError, as the real Keyring does."""
    if active not in keys:
        raise ValueError("active key not configured")
    if keys[active][0] != "crc" and any(method == "crc" for method, _ in keys.values()):
        raise ValueError("crc slot beside a keyed active slot")
    return {index: RefKey(method, key) for index, (method, key) in keys.items()}


def _name_ok(name: bytes) -> bool:
    return all(0x21 <= c <= 0x7E for c in name)


def encode(key: RefKey, key_index: int, *, sender: str, fingerprint: int, generation: int,
           sequence: int, timestamp_ms: int, echo_ms: int, echo_delay_ms: int, link_id: int,
           node_state: int, node_flags: int, groups: bytes) -> bytes:
    name = sender.encode("ascii")
    if not 1 <= len(name) <= 64 or not _name_ok(name) or len(groups) > 64:
        raise ValueError("field out of range")
    body = (
        b"TB\x01\x01" + bytes((key_index, len(name))) + name
        + _FIXED.pack(fingerprint, generation, sequence, timestamp_ms, echo_ms,
                      echo_delay_ms, link_id, node_state, node_flags, len(groups))
        + groups
    )
    return body + key.mac(body)


def decode(data: bytes, keys: dict[int, RefKey]) -> RefFrame:
    """Check in the documented order; raise RefError(reason) on the first failure."""
    key = _head_key(data, keys)
    n = len(data)
    name_len = data[5]
    if not 1 <= name_len <= 64:
        raise RefError("field")
    fixed_at = _HEAD + name_len
    if fixed_at + _FIXED.size > n:
        raise RefError("length")
    fields = _FIXED.unpack_from(data, fixed_at)
    count = fields[9]
    if count > 64:
        raise RefError("field")
    body_len = fixed_at + _FIXED.size + count
    if body_len + key.mac_len != n:
        raise RefError("length")
    name = data[_HEAD:fixed_at]
    if not _name_ok(name):
        raise RefError("field")
    if not hmac.compare_digest(key.mac(data[:body_len]), data[body_len:]):
        raise RefError("mac")
    return RefFrame(name.decode("ascii"), *fields[:9], data[body_len - count : body_len],
                    data[4])


def _head_key(data: bytes, keys: dict[int, RefKey]) -> RefKey:
    """The checks on the fixed head, in order; the key its index names."""
    n = len(data)
    if n > MAX_FRAME:
        raise RefError("oversize")
    if n < MIN_FRAME:
        raise RefError("length")
    if data[0:2] != b"TB":
        raise RefError("magic")
    if data[2] != 1:
        raise RefError("version")
    if data[3] != 1:
        raise RefError("field")
    key = keys.get(data[4])
    if key is None:
        raise RefError("key")
    return key


def cobs_encode(data: bytes) -> bytes:
    """COBS per docs/protocol.md §Serial, without the 0x00 delimiter."""
    out = bytearray()
    run = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(run) + 1)
            out += run
            run.clear()
            continue
        run.append(byte)
        if len(run) == 254:
            out.append(255)
            out += run
            run.clear()
    out.append(len(run) + 1)
    out += run
    return bytes(out)


def cobs_decode(data: bytes) -> bytes | None:
    """Inverse of cobs_encode; None for bytes that are not COBS."""
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        i += 1
        if code == 0 or i + code - 1 > len(data):
            return None
        run = data[i : i + code - 1]
        if 0 in run:
            return None
        out += run
        i += code - 1
        if code != 255 and i < len(data):
            out.append(0)
    return bytes(out)


class RefDeframer:
    """The serial reader of docs/protocol.md §Serial links, with the same counters.

    Written as the spec reads, a line at a time: a heartbeat text message starts with a line
    that is exactly ">>>" and ends with a line that is exactly "<<<"; a line starts after
    "\n" and at every boundary (stream start, a 0x00, a message's end). Everything else is
    COBS bytes up to a 0x00.
    """

    MAX_ENCODED = MAX_FRAME + MAX_FRAME // 254 + 1
    MAX_TEXT = 4096

    def __init__(self) -> None:
        self._buf = bytearray()
        self._text = False
        self._discarding = False
        self._junk = 0  # bytes other than "\n" since the last boundary (frame mode)
        self._line = b""  # the current line so far, its first 4 bytes (enough to compare)
        self.frames = 0
        self.classic = 0
        self.dropped_garbage = 0
        self.dropped_oversize = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        found: list[bytes] = []
        for b in chunk:
            ended = None  # the line a "\n" just ended
            if b == 0x0A:
                ended, self._line = self._line, b""
            else:
                self._line = (self._line + bytes([b]))[:4]
            message = self._text_byte(b, ended) if self._text else self._frame_byte(b, ended)
            if message is not None:
                found.append(message)
        return found

    def _boundary(self) -> None:
        self._buf.clear()
        self._text = self._discarding = False
        self._junk = 0
        self._line = b""

    def _start_text(self) -> None:
        self._boundary()
        self._text = True
        self._buf += b">>>\n"

    def _drop(self) -> None:
        if self._discarding:
            self.dropped_oversize += 1
        else:
            self.dropped_garbage += 1

    def _frame_byte(self, b: int, ended: bytes | None) -> bytes | None:
        if b == 0:
            encoded, discarding = bytes(self._buf), self._discarding
            self._boundary()
            return self._end_frame(encoded, discarding)
        if b != 0x0A:
            self._junk += 1
        if not self._discarding:
            if len(self._buf) + 1 > self.MAX_ENCODED:
                self._discarding = True
                self._buf.clear()
            else:
                self._buf.append(b)
        if ended == b">>>":
            if self._discarding:
                self.dropped_oversize += 1
            elif self._junk > 3:
                self.dropped_garbage += 1
            self._start_text()
        return None

    def _end_frame(self, encoded: bytes, discarding: bool) -> bytes | None:
        if discarding:
            self.dropped_oversize += 1
            return None
        if not encoded:
            return None
        frame = cobs_decode(encoded)
        if not frame:
            self.dropped_garbage += 1
        elif len(frame) > MAX_FRAME:
            self.dropped_oversize += 1
        else:
            self.frames += 1
            return frame
        return None

    def _text_byte(self, b: int, ended: bytes | None) -> bytes | None:
        if b == 0 or ended == b">>>":
            self._drop()
            if b == 0:
                self._boundary()
            else:
                self._start_text()
            return None
        if not self._discarding:
            if len(self._buf) == self.MAX_TEXT:
                self._discarding = True
            else:
                self._buf.append(b)
        if ended != b"<<<":
            return None
        message, discarding = bytes(self._buf), self._discarding
        self._boundary()
        if discarding:
            self.dropped_oversize += 1
            return None
        self.classic += 1
        return message
