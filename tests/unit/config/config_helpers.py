"""Shared data and helpers for the config tests (imported by name; not a test module)."""

from __future__ import annotations

from twinbeat.config.messages import Report
from twinbeat.config.source import decode_lines

# The classic two-node Apache how-to (DESIGN.md §1), as a heartbeat admin wrote them.
HOWTO_HACF = """\
logfile /var/log/ha-log
debugfile /var/log/ha-debug
logfacility local0
keepalive 2
deadtime 10
udpport 694
bcast eth0
node calc
node prime
"""
HOWTO_KEY = "86e07a217fcd61fb981872ec57b68845"
HOWTO_AUTHKEYS = f"auth 1\n1 md5 {HOWTO_KEY}\n"
HOWTO_HARESOURCES = "prime 198.18.1.100 apache2\n"


def lines_of(text: str | bytes, path: str = "f") -> tuple[list[tuple[int, str]], Report]:
    """Decoded lines of `text` and the report that collected any decoding errors."""
    report = Report()
    data = text.encode() if isinstance(text, str) else text
    return decode_lines(data, path, report), report


def texts(messages: list) -> list[str]:
    """`str()` of each message, for readable assertions."""
    return [str(m) for m in messages]
