"""heartbeat 3.0.6 messages: ``hb_decode_untrusted`` and the two encoders, one C call each.

A twinbeat node must recognise a peer that still runs heartbeat (issue #14, step 1) and, in
step 2, talk to it. heartbeat's messages are ordered (name, value) fields in one of two
encodings (docs/protocol.md §heartbeat 3.0.6 messages): netstring on UDP, classic text on
serial. The C code in csrc/tb_hb*.c parses, verifies and builds them; this module converts
arguments and results. Like the native codec's facade, the decoder takes untrusted bytes and
raises WireError only; the encoders raise ValueError for fields heartbeat cannot carry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from ._lib import ffi, lib
from .errors import WireError, error_for
from .keyring import Keyring

#: Longest message either way, in bytes, and the most fields one may have.
HB_MAX_MSG: int = lib.TB_HB_MAX_MSG
HB_MAX_FIELDS: int = lib.TB_HB_MAX_FIELDS
NETSTRING = "netstring"
CLASSIC = "classic"
_FORMS = {lib.TB_HB_FORM_NETSTRING: NETSTRING, lib.TB_HB_FORM_CLASSIC: CLASSIC}
#: The first bytes of a heartbeat message in each form (a native frame starts with "TB").
HB_STARTS = frozenset({b"###\n", b">>>\n"})
_unpack: Callable[[Any, int], bytes] = ffi.unpack


class HbField(NamedTuple):
    """One field as heartbeat holds it: the name without a type prefix, the value decoded
    (binary from base64 in the classic form, "\\n" from 0x13), and whether it is binary
    (heartbeat's FT_BINARY, e.g. ``srcuuid``) rather than a string."""

    name: bytes
    value: bytes
    binary: bool = False


class HbMessage(NamedTuple):
    """A verified heartbeat message: its fields in wire order (an ``auth`` field included
    if it was sent), the form it came in, and the authkeys slot whose digest verified."""

    fields: tuple[HbField, ...]
    form: str
    key_index: int

    def get(self, name: bytes) -> bytes | None:
        """The first field called `name`, as heartbeat looks fields up; None if absent."""
        for field in self.fields:
            if field.name == name:
                return field.value
        return None


class _Buffers(threading.local):
    """Per thread: the C message struct (4.7 KB) and output buffer, made once."""

    def __init__(self) -> None:
        self.msg: Any = ffi.new("tb_hb_msg *")
        self.out: Any = ffi.new("char[]", HB_MAX_MSG)


_buffers = _Buffers()


def hb_decode_untrusted(data: bytes, keyring: Keyring) -> HbMessage:
    """Check, verify and parse a heartbeat message received from the network.

    Any byte string either yields a message whose digest verified with the authkeys slot it
    names (netstring: its trailer; classic: its ``auth`` field), or raises WireError
    (reasons: oversize, magic, syntax, field, key, mac; tests/hostile fuzz this).
    """
    if type(data) is not bytes:
        data = bytes(data)
    ptrs = keyring.session().ptrs
    msg = _buffers.msg
    rc = lib.tb_hb_decode(data, len(data), ptrs, msg)
    if rc:
        raise error_for(rc)
    blob = _unpack(ffi.cast("char *", msg.data), HB_MAX_MSG)
    fields = tuple(
        HbField(
            blob[f.name_off : f.name_off + f.name_len],
            blob[f.value_off : f.value_off + f.value_len],
            f.type == lib.TB_HB_BINARY,
        )
        for f in msg.fields[0 : msg.field_count]
    )
    return HbMessage(fields, _FORMS[msg.form], msg.key_index)


def hb_encode_netstring(
    fields: Iterable[HbField | tuple[bytes, bytes]], keyring: Keyring, *, inner_auth: bool = True
) -> bytes:
    """The fields as heartbeat 3.0.6 sends them on UDP, signed with ``keyring.active``.

    An ``auth`` field among them gets heartbeat's classic digest in place; without one it is
    appended when `inner_auth` (heartbeat's default ``msgfmt classic`` does). The trailer
    signs everything from ``###`` through ``%%%``.
    """
    return _encode(fields, keyring, lib.TB_HB_FORM_NETSTRING, inner_auth)


def hb_encode_classic(
    fields: Iterable[HbField | tuple[bytes, bytes]], keyring: Keyring
) -> bytes:
    """The fields as heartbeat 3.0.6 sends them on a serial line (``>>>`` ... ``<<<``),
    with the ``auth`` field (set in place, or appended) signed with ``keyring.active``."""
    return _encode(fields, keyring, lib.TB_HB_FORM_CLASSIC, True)


def _encode(
    fields: Iterable[HbField | tuple[bytes, bytes]], keyring: Keyring, form: int,
    inner_auth: bool,
) -> bytes:
    data = bytearray()
    specs = []
    for field in fields:
        f = HbField(*field)
        specs.append((len(data), len(f.name), len(data) + len(f.name), len(f.value),
                      lib.TB_HB_BINARY if f.binary else lib.TB_HB_STRING))
        data += f.name + f.value
    if len(data) > HB_MAX_MSG or len(specs) > HB_MAX_FIELDS:
        raise ValueError(f"{len(specs)} fields, {len(data)} bytes: over heartbeat's limits "
                         f"({HB_MAX_FIELDS} fields, {HB_MAX_MSG} bytes)")
    session = keyring.session()
    out = _buffers.out
    n = lib.tb_hb_encode(
        session.sign, keyring.active, form, inner_auth, bytes(data), len(data),
        ffi.new("tb_hb_field[]", specs), len(specs), ffi.cast("uint8_t *", out), HB_MAX_MSG,
    )
    if n < 0:
        raise ValueError(_refusal(n, keyring))
    return _unpack(out, n)


def _refusal(code: int, keyring: Keyring) -> str:
    if code == lib.TB_ERR_FIELD:
        return ("a field heartbeat cannot carry: names are 1..64 printable ASCII bytes "
                "without '=' or a leading '(', values non-empty, strings without NUL, CR or "
                "0x13, at most one string field 'auth', at most 64 fields")
    if code == lib.TB_ERR_OVERSIZE:
        return f"the message would be over {HB_MAX_MSG} bytes"
    if code == lib.TB_ERR_ARG:
        method = keyring.methods[keyring.active]
        return f"heartbeat cannot sign with key {keyring.active} ({method}): md5, sha1 or crc"
    return f"the codec refused to encode (error {code})"


def hb_digest(keyring: Keyring, index: int, data: bytes) -> str:
    """heartbeat's digest text of `data` with slot `index` (known-answer tests, tools)."""
    out = ffi.new("uint8_t[]", lib.TB_HB_MAX_DIGEST)
    try:
        key = keyring.session().ptrs[index]
    except IndexError:
        raise ValueError(f"key index {index} is not in 0..15") from None
    if key == ffi.NULL:
        raise ValueError(f"key {index} is not configured")
    n = lib.tb_hb_digest(key, data, len(data), out, lib.TB_HB_MAX_DIGEST)
    if n < 0:
        raise ValueError(f"heartbeat has no digest for key {index} "
                         f"({keyring.methods[index]}): md5, sha1 or crc")
    return _unpack(ffi.cast("char *", out), n).decode("ascii")


__all__ = [
    "CLASSIC", "HB_MAX_FIELDS", "HB_MAX_MSG", "HB_STARTS", "NETSTRING", "HbField", "HbMessage",
    "WireError", "hb_decode_untrusted", "hb_digest", "hb_encode_classic", "hb_encode_netstring",
]
