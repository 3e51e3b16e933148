"""Serial link driver: ha.cf `serial /dev/ttyX` at `baud N`, a null-modem cable.

Owns the tty: pyserial opens and configures it (8N1, no flow control, exclusive lock), then
this module sets VMIN=1 itself, because pyserial leaves VMIN=0 and an empty non-blocking read
then returns b'' -- indistinguishable from hang-up (DESIGN.md §9). trio waits on the fd with
`wait_readable`; no threads. Frames are COBS-encoded and 0x00-delimited by `twinbeat.wire`
so the reader resynchronises after noise or a cable pull.

A vanished device (USB adapter unplugged, socat gone: reads give b''/EIO, the path is gone)
takes the link down; the fd is closed and the path reopened with backoff, while the other
links carry the cluster. Writes never block: a frame the kernel will not take whole is dropped
and counted -- a late heartbeat is worth nothing.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import termios
from collections.abc import Callable

import serial
import trio

from twinbeat import wire
from twinbeat.config.model import Bcast, Link, Mcast, Serial, Ucast
from twinbeat.links import Carrier, Deliver
from twinbeat.links.modem import ModemLines, has_modem_lines
from twinbeat.links.stats import MAX_RECEIVE, LinkStats

log = logging.getLogger("twinbeat.links")

BACKOFF_FIRST = 0.5  # seconds before the first reopen attempt
BACKOFF_MAX = 2.0  # doubling up to this



def _set_vmin1(fd: int) -> None:
    """Blocking-read semantics of heartbeat's ttysetup (VMIN=1, VTIME=0), see module doc."""
    attrs = termios.tcgetattr(fd)
    attrs[6][termios.VMIN] = 1
    attrs[6][termios.VTIME] = 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class SerialLink:
    """One `serial` line of ha.cf. `name` is the device path (heartbeat's link name)."""

    def __init__(self, link: Link, baud: int) -> None:
        """`link` is a `serial` link of ha.cf; `baud` is ha.cf's baud."""
        self.name = link.name
        self.link_id = link.link_id
        match link.medium:
            case Serial(device=device):
                self.device = device
            case Bcast() | Ucast() | Mcast():
                raise TypeError(f"link {link.name} is a UDP medium, not a serial line")
        self.baud = baud
        self.up = False
        self.stats = LinkStats()
        self._port: serial.Serial | None = None
        self._fd: int | None = None
        self._resync = False  # a partial write left half a frame on the line
        self._opened_once = False
        self._why_down: str | None = None
        self.deframer: wire.Deframer | None = None
        self._report: Callable[[bool], None] | None = None
        self.carrier: bool | None = None  # the physical layer as last reported

    # -- public API --------------------------------------------------------------------

    async def run(
        self, deliver: Deliver, *, carrier: Carrier | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Open the port and deliver deframed frames until cancelled, reopening on loss.

        `task_status.started()` comes after the first open attempt even if it failed. With
        `carrier`, the line's physical layer is reported as `carrier(name, up)`: lost on a
        hang-up, EIO or a device that cannot be opened; and while the port is open, what its
        modem lines show (links/modem.py), or, for a port without them (a pty), there.
        """
        if carrier is not None:
            name = self.name
            self._report = lambda up: carrier(name, up)
        started = False
        backoff = BACKOFF_FIRST
        try:
            while True:
                try:
                    self._open()
                except (OSError, serial.SerialException) as exc:
                    self._set_down(f"open: {exc}")
                if not started:
                    task_status.started()
                    started = True
                if self._fd is None:
                    await trio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    continue
                backoff = BACKOFF_FIRST
                try:
                    async with trio.open_nursery() as nursery:
                        self._watch_lines(nursery)
                        await self._receive(deliver)
                        nursery.cancel_scope.cancel()
                finally:
                    self._close()
        finally:
            self._close()

    def counters(self) -> dict[str, int]:
        """This driver's counters plus the deframer's: noise on the line between frames."""
        counters = self.stats.as_dict()
        if self.deframer is not None:
            counters["serial_garbage_bytes"] = self.deframer.stats.dropped_garbage
            counters["serial_oversize_frames"] = self.deframer.stats.dropped_oversize
        return counters

    def send(self, data: bytes) -> bool:
        """Write one COBS frame without blocking; drop it (False) if the tty won't take it."""
        fd = self._fd
        if fd is None or not self.up:
            self.stats.send_errors += 1
            return False
        if data[:4] == b">>>\n":
            # heartbeat 3.0.6's classic text (issue #14) goes as it is, after a newline that
            # ends whatever went before: heartbeat's reader drops a line not starting ">>>".
            encoded = b"\n" + data
        else:
            try:
                encoded = wire.cobs_frame(data)
            except ValueError:  # over wire.MAX_FRAME: the caller's bug; never crash the loop
                self.stats.send_errors += 1
                return False
        if self._resync:
            # The previous frame was cut short: a leading delimiter ends that fragment so
            # the peer's deframer discards it instead of gluing it to this frame.
            encoded = b"\x00" + encoded
        try:
            written = os.write(fd, encoded)
        except BlockingIOError:
            self.stats.send_errors += 1
            return False
        except OSError as exc:
            self._set_down(f"write: {exc.strerror}")
            self.stats.send_errors += 1
            return False
        if written != len(encoded):
            self._resync = True
            self.stats.send_errors += 1
            return False
        self._resync = False
        self.stats.sent += 1
        return True

    # -- internals ---------------------------------------------------------------------

    def _open(self) -> None:
        port = serial.Serial(
            port=self.device,
            baudrate=self.baud,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            xonxoff=False,
            rtscts=False,
            dsrdtr=False,
            timeout=0,
            write_timeout=0,
            exclusive=True,
        )
        try:
            fd = port.fileno()
            _set_vmin1(fd)  # after every pyserial setter: they rewrite termios
            os.set_blocking(fd, False)
        except BaseException:
            port.close()
            raise
        self._port, self._fd = port, fd
        self._resync = False
        self.up = True
        if self._opened_once:
            self.stats.reopens += 1
        self._opened_once = True
        self._why_down = None
        log.info("link %s up (serial, %d baud)", self.name, self.baud)

    async def _receive(self, deliver: Deliver) -> None:
        """Deliver frames until the device hangs up; a fresh Deframer per open."""
        fd = self._fd
        assert fd is not None
        deframer = self.deframer = wire.Deframer()  # its stats count garbage on the line
        while True:
            await trio.lowlevel.wait_readable(fd)
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                continue
            except OSError as exc:
                self._set_down(f"read: {exc.strerror or errno.errorcode.get(exc.errno or 0)}")
                return
            if not chunk:  # with VMIN=1 an empty read means hang-up, not "no data"
                self._set_down("read: hang-up")
                return
            for frame in deframer.feed(chunk):
                if len(frame) > MAX_RECEIVE:
                    self.stats.oversize_dropped += 1
                    continue
                self.stats.received += 1
                deliver(self.name, frame)

    def _watch_lines(self, nursery: trio.Nursery) -> None:
        """The open port's physical layer: its modem lines, polled, or none (a pty)."""
        port = self._port
        if self._report is None or port is None:
            return
        try:
            lines = has_modem_lines(port)
        except OSError:
            return  # gone already: the read says so
        if lines:
            nursery.start_soon(ModemLines(self._set_carrier).run, port)
        else:
            self._set_carrier(True)

    def _set_carrier(self, up: bool) -> None:
        if self._report is not None and up != self.carrier:
            self.carrier = up
            self._report(up)

    def _set_down(self, why: str) -> None:
        if why != self._why_down:
            log.warning("link %s down: %s", self.name, why)
            self._why_down = why
        self.up = False
        self._set_carrier(False)  # hang-up, EIO, no device: nothing crosses this line now

    def _close(self) -> None:
        port, fd = self._port, self._fd
        self._port = self._fd = None
        self.up = False
        if fd is not None:
            trio.lowlevel.notify_closing(fd)
        if port is not None:
            with contextlib.suppress(OSError):  # the device may be gone already
                port.close()
