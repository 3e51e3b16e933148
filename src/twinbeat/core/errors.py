"""Errors raised by the core.

Owns: `CoreMisuse`, the one exception the core raises. It means "the caller (the daemon or a
test) fed an event that is illegal in the current state"; the core's state is unchanged when
it is raised. Bytes from the peer never cause it: bad or replayed frames are dropped and counted.

Must not import anything from twinbeat.
"""

from __future__ import annotations


class CoreMisuse(ValueError):  # noqa: N818 (the name is the contract)
    """An event that is illegal in the core's current state; nothing was changed."""
