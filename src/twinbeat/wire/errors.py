"""WireError: the one exception a parser of untrusted bytes may raise."""

from __future__ import annotations

from ._lib import REASONS


class WireError(Exception):
    """A frame or stream from the network was refused.

    ``reason`` is one of :data:`REASON_NAMES` and is what links count and the core logs;
    misuse by local callers raises ValueError instead, so the two are never confused.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Every reason a frame may be refused for, generated from the C header.
REASON_NAMES: frozenset[str] = frozenset(REASONS.values())

# One instance per code would be shared and mutated by tracebacks; build them on demand.
_BY_CODE: dict[int, str] = dict(REASONS)


def error_for(code: int) -> WireError:
    """The WireError for a negative C return code (unknown codes fail closed as "field")."""
    return WireError(_BY_CODE.get(code, "field"))
