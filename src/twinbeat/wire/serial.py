"""COBS framing for serial links: ``cobs_frame`` and the stream ``Deframer``.

A serial line is a byte stream with noise and cable pulls; frames are COBS-encoded and
end in 0x00 so the reader can always resynchronise (docs/protocol.md §Serial). The same
reader also hands on heartbeat 3.0.6's classic text messages (">>>\n" ... "<<<\n"), so
that a peer still running heartbeat is recognised on its serial line too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._lib import ffi, lib

_COBS_MAX: int = lib.TB_COBS_MAX
_MAX_FRAME: int = lib.TB_MAX_FRAME
_tb_deframe = lib.tb_deframe
_unpack: Callable[[Any, int], bytes] = ffi.unpack


def cobs_frame(frame: bytes) -> bytes:
    """COBS-encode a frame and append the 0x00 delimiter, ready to write to the port."""
    if len(frame) > _MAX_FRAME:
        raise ValueError(f"frame of {len(frame)} bytes is over MAX_FRAME ({_MAX_FRAME})")
    out = ffi.new("char[]", _COBS_MAX)
    n = lib.tb_cobs_frame(bytes(frame), len(frame), ffi.cast("uint8_t *", out), _COBS_MAX)
    if n < 0:  # pragma: no cover - the size check above rules it out
        raise ValueError(f"tb_cobs_frame failed ({n})")
    return _unpack(out, n)


@dataclass(frozen=True, slots=True)
class DeframerStats:
    """What a Deframer has seen (counted in C; counters only grow). Shown per link.

    `frames` are COBS frames, `classic_messages` heartbeat text messages handed on.
    """

    frames: int = 0
    dropped_garbage: int = 0
    dropped_oversize: int = 0
    classic_messages: int = 0


# Room for many frames per C call: a call costs more than deframing one status frame.
_OUT_CAP = 64 * 1024
_MAX_FRAMES = 1024


class Deframer:
    """Turns chunks read from a serial port into whole, COBS-decoded frames, and heartbeat's
    classic text messages as received (they start with ">>>\n"; frames with "TB").

    Memory is bounded: at most one maximal encoded frame, or one HB_MAX_MSG text message,
    is buffered (inside the C state); longer runs are skipped to their end and counted in
    ``stats.dropped_oversize``. Bytes that are neither count in ``stats.dropped_garbage``.
    What comes out is for ``decode_untrusted`` / ``hb_decode_untrusted`` to judge.
    """

    __slots__ = ("_consumed", "_ends", "_out", "_out_bytes", "_state")

    def __init__(self) -> None:
        self._state: Any = ffi.new("tb_deframer *")
        lib.tb_deframer_init(self._state)
        self._consumed: Any = ffi.new("size_t *")
        self._out: Any = ffi.new("uint8_t[]", _OUT_CAP)
        self._out_bytes: Any = ffi.cast("char *", self._out)
        self._ends: Any = ffi.new("uint32_t[]", _MAX_FRAMES)

    @property
    def stats(self) -> DeframerStats:
        state = self._state
        return DeframerStats(state.frames, state.dropped_garbage, state.dropped_oversize,
                             state.classic)

    def feed(self, chunk: bytes) -> list[bytes]:
        """Consume a chunk; return the frames it completed, in order."""
        frames: list[bytes] = []
        size = len(chunk)
        if not size:
            return frames
        src = ffi.from_buffer("uint8_t[]", chunk)
        pos = 0
        consumed, ends = self._consumed, self._ends
        while pos < size:
            count = _tb_deframe(self._state, src + pos if pos else src, size - pos, consumed,
                                self._out, _OUT_CAP, ends, _MAX_FRAMES)
            pos += consumed[0]
            if count > 0:
                offsets = _unpack(ends, count)
                data = _unpack(self._out_bytes, offsets[-1])
                start = 0
                for end in offsets:
                    frames.append(data[start:end])
                    start = end
        return frames
