"""COBS framing for serial links: ``cobs_frame`` and the stream ``Deframer``.

A serial line is a byte stream with noise and cable pulls; frames are COBS-encoded and
end in 0x00 so the reader can always resynchronise (docs/protocol.md §Serial).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._lib import ffi, lib

_COBS_MAX: int = lib.TB_COBS_MAX
_MAX_FRAME: int = lib.TB_MAX_FRAME
_tb_deframe = lib.tb_deframe
_unpack = ffi.unpack
_ERR_OVERSIZE: int = lib.TB_ERR_OVERSIZE


def cobs_frame(frame: bytes) -> bytes:
    """COBS-encode a frame and append the 0x00 delimiter, ready to write to the port."""
    if len(frame) > _MAX_FRAME:
        raise ValueError(f"frame of {len(frame)} bytes is over MAX_FRAME ({_MAX_FRAME})")
    out = ffi.new("char[]", _COBS_MAX)
    n = lib.tb_cobs_frame(bytes(frame), len(frame), ffi.cast("uint8_t *", out), _COBS_MAX)
    if n < 0:  # pragma: no cover - the size check above rules it out
        raise ValueError(f"tb_cobs_frame failed ({n})")
    return _unpack(out, n)


@dataclass(slots=True)
class DeframerStats:
    """What a Deframer has seen; counters only grow. Shown per link in the status."""

    frames: int = 0
    dropped_garbage: int = 0
    dropped_oversize: int = 0


class Deframer:
    """Turns chunks read from a serial port into whole, COBS-decoded frames.

    Memory is bounded: at most one maximal encoded frame is buffered (inside the C state);
    longer runs are skipped to the next 0x00 and counted in ``stats.dropped_oversize``.
    Bytes that are not COBS count in ``stats.dropped_garbage``. Frames that decode as
    COBS but are not valid status frames are for ``decode_untrusted`` to refuse.
    """

    __slots__ = ("_consumed", "_out", "_out_bytes", "_state", "stats")

    def __init__(self) -> None:
        self._state: Any = ffi.new("tb_deframer *")
        lib.tb_deframer_init(self._state)
        self._consumed: Any = ffi.new("size_t *")
        self._out: Any = ffi.new("uint8_t[]", _COBS_MAX)
        self._out_bytes: Any = ffi.cast("char *", self._out)
        self.stats = DeframerStats()

    def feed(self, chunk: bytes) -> list[bytes]:
        """Consume a chunk; return the frames it completed, in order."""
        frames: list[bytes] = []
        remaining = len(chunk)
        if not remaining:
            return frames
        src = ffi.from_buffer("uint8_t[]", chunk)
        state, consumed, out = self._state, self._consumed, self._out
        stats = self.stats
        while remaining:
            rc = _tb_deframe(state, src, remaining, consumed, out, _COBS_MAX)
            used = consumed[0]
            src += used
            remaining -= used
            if rc > 0:
                frames.append(_unpack(self._out_bytes, rc))
            elif rc == _ERR_OVERSIZE:
                stats.dropped_oversize += 1
            elif rc < 0:
                stats.dropped_garbage += 1
        stats.frames += len(frames)
        return frames
