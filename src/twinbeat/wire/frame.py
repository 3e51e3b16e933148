"""Status frames: ``encode`` (sign) and ``decode_untrusted`` (verify) over one C call each.

The frame layout and the order of checks are docs/protocol.md's; the C code in csrc/ does
all checking. This module only converts arguments and results, and is kept thin on purpose:
the per-frame budget is about a microsecond, and every extra Python step shows in it.
"""

from __future__ import annotations

from collections.abc import Callable
from struct import Struct
from typing import Any, NamedTuple

from ._lib import ffi, lib
from .errors import WireError, error_for
from .keyring import METHODS, Keyring

MAX_FRAME: int = lib.TB_MAX_FRAME

_tb_encode = lib.tb_encode
_tb_decode = lib.tb_decode
_unpack: Callable[[Any, int], bytes] = ffi.unpack
_NULL = ffi.NULL
_HEAD = lib.TB_HEAD_LEN
_FIXED = lib.TB_FIXED_LEN
_new_tuple = tuple.__new__
# name | fingerprint generation sequence timestamp echo | echo delay | link state flags | G,
# one Struct per name length so a single call reads everything but the groups.
_FIELDS = [Struct(f">{n}sIIIIIHBBBB") for n in range(lib.TB_MAX_NAME + 1)]


class Frame(NamedTuple):
    """One verified status frame (field meanings: docs/protocol.md).

    A NamedTuple rather than a frozen dataclass: just as immutable and typed, and built by one
    `tuple.__new__` call, where a frozen dataclass's __init__ (an object.__setattr__ per field)
    cost more than the MAC itself on the per-frame budget.
    """

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


def encode(
    keyring: Keyring,
    *,
    sender: str,
    fingerprint: int,
    generation: int,
    sequence: int,
    timestamp_ms: int,
    echo_ms: int,
    echo_delay_ms: int,
    link_id: int,
    node_state: int,
    node_flags: int,
    groups: bytes,
) -> bytes:
    """Build one status frame signed with ``keyring.active``.

    Raises:
        ValueError: a field is out of range (name length or characters, a number that does
            not fit its field, more than 64 groups). That is the caller's bug, not the peer's.
    """
    name = sender.encode("ascii")  # UnicodeEncodeError is a ValueError
    session = keyring.session()
    try:
        n = _tb_encode(
            session.sign, keyring.active, name, len(name), fingerprint, generation,
            sequence, timestamp_ms, echo_ms, echo_delay_ms, link_id, node_state,
            node_flags, groups, len(groups), session.out, MAX_FRAME,
        )
    except (OverflowError, TypeError) as exc:
        raise ValueError(f"frame field out of range: {exc}") from None
    if n < 0:
        raise ValueError(_misuse(n, sender, groups))
    return _unpack(session.out_bytes, n)


def _misuse(code: int, sender: str, groups: bytes) -> str:
    if code == lib.TB_ERR_FIELD:
        return (
            f"sender {sender!r} must be 1..{lib.TB_MAX_NAME} printable ASCII characters without"
            f" spaces and groups at most {lib.TB_MAX_GROUPS} bytes (got {len(groups)})"
        )
    return f"the wire codec refused to encode (error {code})"


def decode_untrusted(data: bytes, keyring: Keyring) -> Frame:
    """Check and parse a frame received from the network.

    Any byte string either yields a Frame whose MAC verified with the key its key index
    names, or raises WireError; nothing else escapes (tests/unit/wire fuzz this).
    """
    if type(data) is not bytes:
        data = bytes(data)
    ptrs = keyring.session().ptrs
    rc = _tb_decode(data, len(data), ptrs, _NULL)
    if rc:
        raise error_for(rc)
    # The C code has checked every length, so the fields can be read straight off the bytes:
    # one struct call (per name length) instead of a dozen cdata attribute reads.
    n = data[5]
    name, fp, gen, seq, ts, echo, delay, link, state, flags, count = _FIELDS[n].unpack_from(
        data, _HEAD
    )
    start = _HEAD + n + _FIXED
    return _new_tuple(
        Frame,
        (name.decode("ascii"), fp, gen, seq, ts, echo, delay, link, state, flags,
         data[start : start + count], data[4]),
    )


__all__ = ["MAX_FRAME", "METHODS", "Frame", "WireError", "decode_untrusted", "encode"]
