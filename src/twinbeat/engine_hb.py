"""The engine's heartbeat 3.0.6 side: its messages to core events and back (issue #14).

Part of engine.py's glue (docs/internals.md §3a), kept apart so each stays small: bytes that
start as a heartbeat message does become `ForeignHeartbeat` (verified with the authkeys key
as heartbeat does, then read for what the core needs), and the core's `SendForeign` becomes
one payload per link, in the form heartbeat sends on that medium. Pure, like engine.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from twinbeat.core import PROTOCOL_HEARTBEAT, ForeignHeartbeat, Log, SendForeign
from twinbeat.wire import (
    HbMessage,
    Keyring,
    WireError,
    hb_decode_untrusted,
    hb_encode_classic,
    hb_encode_netstring,
)

# Refusals of heartbeat 3.0.6 messages are counted apart: "heartbeat-mac" says a heartbeat
# node with another key, where "mac" would suggest a twinbeat one.
HEARTBEAT = "heartbeat-"
SERIAL_LINK_IDS = 0x80  # link ids from here up are serial links (config/model.py)
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _text(value: bytes | None) -> str | None:
    if value is None or not value.isascii():
        return None
    return value.decode("ascii")


def _hex(value: bytes | None) -> int | None:
    """heartbeat's `%lx` numbers (`hg`, `seq`); None when absent or not hex."""
    if value is None or not 0 < len(value) <= 16 or not _HEX.issuperset(value):
        return None
    return int(value, 16)


def heartbeat_event(link: str, msg: HbMessage) -> ForeignHeartbeat | None:
    """The core's view of a verified heartbeat 3.0.6 message, or None without `t` or `src`."""
    kind, peer = _text(msg.get(b"t")), _text(msg.get(b"src"))
    if kind is None or peer is None:
        return None
    return ForeignHeartbeat(
        link=link, peer=peer, protocol=PROTOCOL_HEARTBEAT, message_type=kind,
        status=_text(msg.get(b"st")) if kind == "status" else None,
        generation=_hex(msg.get(b"hg")), sequence=_hex(msg.get(b"seq")),
        fields=tuple((f.name.decode("ascii", "replace"), f.value.decode("latin-1"))
                     for f in msg.fields if not f.binary),
    )


def decode_heartbeat(link: str, data: bytes, keyring: Keyring) -> ForeignHeartbeat | str:
    """The event for a heartbeat message, or the reason it is refused (to count):
    `heartbeat-<wire reason>`, or `heartbeat-field` without `t` or `src` (heartbeat itself
    drops such a message: reference §1.6)."""
    try:
        msg = hb_decode_untrusted(data, keyring)
    except WireError as exc:
        return HEARTBEAT + exc.reason
    return heartbeat_event(link, msg) or HEARTBEAT + "field"


def encode_foreign(message: SendForeign, keyring: Keyring, link_ids: Mapping[str, int]
                   ) -> tuple[tuple[str, bytes], ...] | Log:
    """One payload per link as heartbeat sends it: netstring (with its inner auth field, as
    `msgfmt classic` has it) on UDP links, classic text on serial links; or an error line
    for a message heartbeat could not carry."""
    fields = [(n.encode(), v.encode()) for n, v in message.fields]
    try:
        netstring = hb_encode_netstring(fields, keyring)
        classic = hb_encode_classic(fields, keyring)
    except ValueError as exc:
        return Log("error", f"heartbeat message {message.fields[0][1]} not sent: {exc}")
    return tuple((link, classic if link_id >= SERIAL_LINK_IDS else netstring)
                 for link, link_id in link_ids.items())
