"""accept() that survives running out of descriptors, for the daemon's local servers.

The control socket and the metrics endpoint take connections from anyone who can reach them,
so a client that opens connections until the process has no descriptors left must cost a
retry, never the server: on EMFILE, ENFILE, ENOMEM or ENOBUFS wait a moment and try again,
as `trio.serve_listeners` does, with one rate-limited error line.
"""

from __future__ import annotations

import errno
import logging

import trio

from twinbeat.control.ratelimit import LogLimiter

ACCEPT_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
ACCEPT_RETRY = 0.1  # seconds after a capacity error


async def accept_retrying(listener: trio.SocketListener, error_log: LogLimiter,
                          server: str) -> trio.SocketStream:
    """The next connection; any other OSError is the caller's."""
    while True:
        try:
            return await listener.accept()
        except OSError as exc:
            if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
                raise
            error_log.log(logging.ERROR, "%s: accept: %s; retrying", server, exc.strerror)
        await trio.sleep(ACCEPT_RETRY)
