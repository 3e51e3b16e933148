"""A log line that anyone may cause, at a bounded rate.

Some of the control socket's log lines are triggered by whoever connects (the socket is mode
0666): a refused state change, a refused connection, a request that broke something. Each is
worth one line to the operator, but a local user looping on it must not be able to fill the
disk or bury the cluster's own messages (keepalived rate-limits such errors too). A
`LogLimiter` lets `burst` lines through per `window` seconds and counts the rest; the count
rides on the next line that gets through, so nothing goes unreported, only unrepeated.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class LogLimiter:
    """At most `burst` lines per `window` seconds for one kind of message."""

    def __init__(self, logger: logging.Logger, *, burst: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self.burst = burst
        self.window = window
        self._clock = clock
        self._window_start = -window  # the first line always opens a window
        self._sent = 0
        self.suppressed = 0  # lines held back since the last one that got through

    def log(self, level: int, message: str, *args: object) -> bool:
        """Log `message % args` unless this window's burst is used up; True if logged."""
        now = self._clock()
        if now - self._window_start >= self.window:
            self._window_start = now
            self._sent = 0
        if self._sent >= self.burst:
            self.suppressed += 1
            return False
        self._sent += 1
        if self.suppressed:
            message += " (%d more like this suppressed)"
            args = (*args, self.suppressed)
            self.suppressed = 0
        self._logger.log(level, message, *args)
        return True
