"""A serial line's physical layer, from its modem lines: is the peer's port there?

Owns the watch over one open tty's input lines DSR and DCD. On a null-modem cable the peer's
DTR drives our DSR (and usually DCD). The peer's tty raises DTR when its daemon opens the
port and drops it when the port closes (HUPCL: the daemon exited, or was killed) or the
machine loses power. So a line that was seen asserted and drops means the peer's port is
gone, within microseconds of it happening: the link cannot carry frames (`LinkCarrier`).

**Polled, cheaply, from trio.** The kernel tells of a modem-line change only through
TIOCMIWAIT, an ioctl that blocks its thread until a line changes. It cannot be waited on
with poll/epoll, so it needs a thread per port (twinbeat does no I/O in threads), and a
thread blocked in it cannot be cancelled: stopping or reopening the link would hang until
the next change of a line, which may never come. TIOCMGET instead reads the lines at once
(pyserial's `dsr`/`cd`, one ioctl each, about a microsecond); polling it every
`MODEM_POLL` (10 ms) from a trio task costs 100 wake-ups a second per serial link and
bounds the delay to 10 ms. (With CLOCAL off, a DCD drop also hangs the tty up, which the
serial driver sees at once as a hang-up; pyserial sets CLOCAL on open, so that is not
relied on.)

**Only lines that have been seen asserted count.** A three-wire cable leaves DSR and DCD
floating or low for good, and some cables tie DCD to our own DTR: a line never seen
asserted since the port was opened tells nothing, and one that stays asserted tells nothing
either. The port has no modem lines at all (a pty: ENOTTY, EINVAL) → the watch ends, and
the serial driver's hang-up is the only signal.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Protocol

import trio

MODEM_POLL = 0.01  # seconds between two reads of the modem lines
NO_MODEM_LINES = frozenset({errno.ENOTTY, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP})

CarrierReport = Callable[[bool], None]


class ModemPort(Protocol):
    """What the watch reads of a port (a `serial.Serial`, or a test's fake)."""

    @property
    def dsr(self) -> bool: ...

    @property
    def cd(self) -> bool: ...


class ModemLines:
    """The carrier as the modem lines show it: `sample` takes a reading, `run` polls."""

    def __init__(self, report: CarrierReport) -> None:
        self.report = report
        self.seen = {"dsr": False, "cd": False}  # asserted at least once since the open
        self.carrier: bool | None = None  # the last state reported

    def sample(self, dsr: bool, cd: bool) -> bool | None:
        """One reading of the lines; the carrier it shows (None: no line ever asserted)."""
        lines = {"dsr": dsr, "cd": cd}
        for name, asserted in lines.items():
            self.seen[name] = self.seen[name] or asserted
        watched = [lines[name] for name, seen in self.seen.items() if seen]
        if not watched:
            return None
        carrier = all(watched)
        if carrier != self.carrier:
            self.carrier = carrier
            self.report(carrier)
        return carrier

    async def run(self, port: ModemPort, interval: float = MODEM_POLL) -> None:
        """Poll the port's lines until cancelled, or until they cannot be read: the port
        has none (a pty), or the device is gone, which the serial driver's read sees too."""
        while True:
            try:
                self.sample(port.dsr, port.cd)
            except OSError:
                return
            await trio.sleep(interval)


def has_modem_lines(port: ModemPort) -> bool:
    """Whether the port's modem lines can be read at all (a pty has none)."""
    try:
        port.dsr  # noqa: B018 (the read is the question)
    except OSError as exc:
        if exc.errno in NO_MODEM_LINES:
            return False
        raise
    return True
