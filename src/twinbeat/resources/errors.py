"""The one exception every resource agent raises, so the daemon has one thing to catch."""

from __future__ import annotations


class AgentError(Exception):
    """A resource operation failed; `str(exc)` is the message for the log and the core."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
