"""systemd `sd_notify` over `$NOTIFY_SOCKET`, in a few lines (DESIGN.md §7, §9).

Owns READY=1 / STATUS= / WATCHDOG=1 delivery. It connects per message (the `sdnotify`
package connects once at creation and swallows errors), never blocks, and drops errors: a
missing systemd must never stop the cluster. Abstract sockets ('@name') are supported.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send one notification (e.g. "READY=1"); False when not under systemd or on error."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.setblocking(False)
            sock.sendto(message.encode(), address)
    except OSError:  # BlockingIOError included: a full queue drops this one message
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds of `WatchdogSec=` if it applies to this process, else None."""
    try:
        usec = int(os.environ["WATCHDOG_USEC"])
    except (KeyError, ValueError):
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid is not None and pid.strip() != str(os.getpid()):
        return None  # meant for another process (e.g. our parent)
    return usec / 1e6 if usec > 0 else None
