"""twinbeat.wire: the native frame codec and heartbeat 3.0.6's messages (docs/protocol.md),
a facade over csrc/.

The only package that calls the cffi ``lib``. Parsers of network bytes end in
``_untrusted`` and raise WireError only; local misuse raises ValueError. Must not import
trio, sockets or anything else from twinbeat.
"""

from __future__ import annotations

from .errors import REASON_NAMES, WireError
from .frame import MAX_FRAME, Frame, decode_untrusted, encode
from .heartbeat import (
    HB_MAX_MSG,
    HB_STARTS,
    HbField,
    HbMessage,
    hb_decode_untrusted,
    hb_digest,
    hb_encode_classic,
    hb_encode_netstring,
)
from .keyring import METHODS, Keyring
from .serial import Deframer, DeframerStats, cobs_frame

__all__ = [
    "HB_MAX_MSG",
    "HB_STARTS",
    "MAX_FRAME",
    "METHODS",
    "REASON_NAMES",
    "Deframer",
    "DeframerStats",
    "Frame",
    "HbField",
    "HbMessage",
    "Keyring",
    "WireError",
    "cobs_frame",
    "decode_untrusted",
    "encode",
    "hb_decode_untrusted",
    "hb_digest",
    "hb_encode_classic",
    "hb_encode_netstring",
]
