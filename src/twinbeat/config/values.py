"""Value syntaxes shared by the ha.cf directives: times, booleans, integers, names.

Each parser returns the value or None; the caller reports the error with its file and
line. Semantics are heartbeat's (reference §7.1): a bare (decimal) number of seconds,
`ms` and `us`/`usec` suffixes, and nothing else (`10s`, `1m` and `-1` are errors);
booleans `true/on/yes/y/1` and `false/off/no/n/0` in any case.
"""

from __future__ import annotations

import ipaddress
import re

_TIME = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|usec)?", re.ASCII)
_SCALE = {None: 1.0, "ms": 1e-3, "us": 1e-6, "usec": 1e-6}

TIME_HINT = "bad time value (use a number of seconds, or Nms / Nus)"

TRUE_WORDS = frozenset({"true", "on", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "off", "no", "n", "0"})

IFNAMSIZ = 16  # Linux interface names are at most 15 bytes


MAX_TIME = 86400.0  # a day: anything longer is a typo, and must not overflow a timer


def parse_time(token: str) -> float | None:
    """Seconds for an ha.cf time value (`2`, `1.5`, `500ms`, `250000us`), else None."""
    match = _TIME.fullmatch(token.lower())
    if match is None or len(token) > 32:
        return None
    return float(match.group(1)) * _SCALE[match.group(2)]  # < 1e33: always finite


def parse_bool(token: str) -> bool | None:
    """heartbeat's cl_str_to_boolean."""
    word = token.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def parse_int(token: str, low: int, high: int) -> int | None:
    """A decimal integer in [low, high], else None."""
    if not token.isascii() or not token.isdigit() or len(token) > 12:
        return None
    value = int(token)
    return value if low <= value <= high else None


def parse_ipv4(token: str) -> ipaddress.IPv4Address | None:
    """A dotted-quad IPv4 address, else None."""
    try:
        return ipaddress.IPv4Address(token)
    except ValueError:
        return None


def is_iface_name(token: str) -> bool:
    """A plausible Linux interface name (what the kernel would accept)."""
    return (
        0 < len(token.encode("utf-8", "surrogateescape")) < IFNAMSIZ
        and token not in (".", "..")
        and all(ch.isprintable() and ch not in "/:" and not ch.isspace() for ch in token)
    )


def format_seconds(seconds: float) -> str:
    """`2s`, `500ms`: a time as an admin would write it (for summaries and messages)."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"
