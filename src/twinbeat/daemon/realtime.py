"""`realtime on` (SCHED_FIFO + mlockall) and `watchdog DEVICE` (kernel watchdog feeding).

Heartbeat runs realtime by default so that a loaded machine does not miss its own keepalives and
get declared dead by the peer. Both steps are best effort: where the kernel or the sandbox refuses
(no CAP_SYS_NICE, a memlock limit), the daemon warns and goes on, as heartbeat does.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno as errno_module
import os

# Low enough to leave the kernel's own realtime threads alone, high enough to beat normal load.
REALTIME_PRIORITY = 10
_MCL_CURRENT = 1
_MCL_FUTURE = 2
_MCL_ONFAULT = 4  # Linux 4.4: lock pages as they are touched, not every mapped page at once


def enter_realtime(priority: int = REALTIME_PRIORITY) -> list[str]:
    """Switch this process to SCHED_FIFO and lock its memory; return warnings for what failed."""
    warnings: list[str] = []
    try:
        # RESET_ON_FORK: resource scripts and the services they start must not inherit realtime
        # priority, or a busy apache could starve the heartbeat it is meant to protect.
        policy = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0)
        os.sched_setscheduler(0, policy, os.sched_param(priority))
    except (OSError, AttributeError) as exc:
        warnings.append(f"realtime: cannot set SCHED_FIFO priority {priority}: {exc}")
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None
    if libc is None or not _lock_memory(libc):
        errno = ctypes.get_errno() if libc is not None else 0
        warnings.append(f"realtime: cannot lock memory (mlockall): {os.strerror(errno)}")
    return warnings


def _lock_memory(libc: ctypes.CDLL) -> bool:
    """mlockall, on fault where the kernel can (issue #17: the daemon's RSS).

    What must never be paged out is what the daemon touches: its heap (every module's code
    objects and the core's state, made at start-up) and the pages of the libraries its
    running paths use, all touched within the first keepalives and locked from then on.
    Plain MCL_CURRENT would also read in and pin every page of every mapped library
    (libpython, libcrypto, the C extensions) whether any path ever runs it: 14 MB of the
    lab daemon's RSS (56 MB against 42). A kernel without MCL_ONFAULT (before 4.4) gets the
    plain lock."""
    if libc.mlockall(_MCL_CURRENT | _MCL_FUTURE | _MCL_ONFAULT) == 0:
        return True
    old_kernel = ctypes.get_errno() == errno_module.EINVAL
    return old_kernel and libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) == 0


class WatchdogDevice:
    """The kernel watchdog named by ha.cf's `watchdog`: fed every keepalive, closed cleanly on exit.

    If the daemon hangs, feeding stops and the kernel reboots the machine: that is the point.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)

    def feed(self) -> None:
        # A failed feed is retried at the next keepalive; a dead device is the kernel's to act on.
        with contextlib.suppress(OSError):
            os.write(self._fd, b"\0")

    def close(self) -> None:
        """Disarm with the magic close character (drivers with nowayout ignore it)."""
        with contextlib.suppress(OSError):
            os.write(self._fd, b"V")
        os.close(self._fd)
