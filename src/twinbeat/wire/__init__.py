"""twinbeat.wire: the native frame codec (docs/protocol.md), a facade over csrc/.

The only package that calls the cffi ``lib``. Parsers of network bytes end in
``_untrusted`` and raise WireError only; local misuse raises ValueError. Must not import
trio, sockets or anything else from twinbeat.
"""

from __future__ import annotations

from .errors import REASON_NAMES, WireError
from .frame import MAX_FRAME, Frame, decode_untrusted, encode
from .keyring import METHODS, Keyring
from .serial import Deframer, DeframerStats, cobs_frame

__all__ = [
    "MAX_FRAME",
    "METHODS",
    "REASON_NAMES",
    "Deframer",
    "DeframerStats",
    "Frame",
    "Keyring",
    "WireError",
    "cobs_frame",
    "decode_untrusted",
    "encode",
]
