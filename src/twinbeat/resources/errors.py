"""The one exception every resource agent raises, so the daemon has one thing to catch."""

from __future__ import annotations


class AgentError(Exception):
    """A resource operation failed; `str(exc)` is the message for the log and the core."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RollbackFailedError(AgentError):
    """A group's start failed and stopping what it had started failed too.

    Part of the group may still run here, so the daemon reports it as a failed start that was
    not rolled back, and the core keeps the group claimed (CRITICAL) instead of handing it over.
    """
