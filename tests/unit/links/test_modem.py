"""The serial line's modem lines (links/modem.py) against a fake port: a pty has no modem
lines, so the DSR/DCD path is tested here (docs/serial.md says how to check a real cable).

`FakePort` answers TIOCMGET as pyserial's `dsr`/`cd` properties do: a bool per line, or
OSError (ENOTTY on a pty, EIO on a vanished device)."""

from __future__ import annotations

import errno

import pytest
import trio
import trio.testing

from twinbeat.config.model import Link, Serial
from twinbeat.links.modem import MODEM_POLL, ModemLines, has_modem_lines
from twinbeat.links.serial import SerialLink


class FakePort:
    def __init__(self, dsr: bool = False, cd: bool = False, error: int | None = None) -> None:
        self.lines = {"dsr": dsr, "cd": cd}
        self.error = error
        self.reads = 0

    def _read(self, name: str) -> bool:
        self.reads += 1
        if self.error is not None:
            raise OSError(self.error, "fake")
        return self.lines[name]

    @property
    def dsr(self) -> bool:
        return self._read("dsr")

    @property
    def cd(self) -> bool:
        return self._read("cd")


def watch() -> tuple[ModemLines, list[bool]]:
    reports: list[bool] = []
    return ModemLines(reports.append), reports


def test_the_peers_dtr_seen_then_dropped_is_a_lost_carrier() -> None:
    lines, reports = watch()
    assert lines.sample(dsr=True, cd=True) is True
    assert lines.sample(dsr=True, cd=True) is True  # no change: no report
    assert lines.sample(dsr=False, cd=False) is False
    assert lines.sample(dsr=True, cd=True) is True  # the peer's port open again
    assert reports == [True, False, True]


def test_lines_never_asserted_tell_nothing() -> None:
    # A three-wire cable: DSR and DCD stay low for good.
    lines, reports = watch()
    for _ in range(3):
        assert lines.sample(dsr=False, cd=False) is None
    assert reports == []


def test_only_the_lines_seen_asserted_count() -> None:
    # DTR wired to DSR only: DCD floats low and is ignored; DSR decides.
    lines, reports = watch()
    assert lines.sample(dsr=True, cd=False) is True
    assert lines.sample(dsr=False, cd=False) is False
    # DCD tied to our own DTR stays asserted: DSR dropping is still a loss.
    lines, reports = watch()
    lines.sample(dsr=True, cd=True)
    assert lines.sample(dsr=False, cd=True) is False
    assert reports == [True, False]


def test_a_pty_has_no_modem_lines_and_a_serial_port_does() -> None:
    assert has_modem_lines(FakePort(error=errno.ENOTTY)) is False
    assert has_modem_lines(FakePort(error=errno.EINVAL)) is False
    assert has_modem_lines(FakePort(dsr=False)) is True
    with pytest.raises(OSError, match="fake"):
        has_modem_lines(FakePort(error=errno.EIO))


async def test_the_poll_reports_a_drop_within_one_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    port = FakePort(dsr=True, cd=True)
    lines, reports = watch()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lines.run, port)
        await trio.sleep(5 * MODEM_POLL)
        assert reports == [True]
        port.lines = {"dsr": False, "cd": False}
        dropped_at = trio.current_time()
        while reports == [True]:
            await trio.sleep(MODEM_POLL / 10)
        assert trio.current_time() - dropped_at <= MODEM_POLL + 1e-9  # virtual time
        nursery.cancel_scope.cancel()


async def test_the_poll_ends_when_the_lines_cannot_be_read() -> None:
    port = FakePort(dsr=True, cd=True)
    lines, reports = watch()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lines.run, port, 0.001)
            while port.reads < 4:
                await trio.sleep(0.001)
            port.error = errno.EIO  # the device vanished: the watch ends, the read says so
    assert reports == [True]


async def test_the_serial_driver_reports_what_the_lines_show(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """SerialLink's wiring: an open port with modem lines is polled (the peer's DTR seen,
    then dropped); one without (a pty) is reported there at once."""
    reports: list[tuple[str, bool]] = []
    link = SerialLink(Link("/dev/ttyS0", 0x80, Serial("/dev/ttyS0")), 19200)
    link._report = lambda up: reports.append((link.name, up))
    port = FakePort(dsr=True, cd=True)
    link._port = port  # type: ignore[assignment]
    async with trio.open_nursery() as nursery:
        link._watch_lines(nursery)
        await trio.sleep(3 * MODEM_POLL)
        port.lines = {"dsr": False, "cd": False}
        await trio.sleep(3 * MODEM_POLL)
        nursery.cancel_scope.cancel()
    assert reports == [("/dev/ttyS0", True), ("/dev/ttyS0", False)]
    link._port = FakePort(error=errno.ENOTTY)  # type: ignore[assignment]
    link.carrier = None
    async with trio.open_nursery() as nursery:
        link._watch_lines(nursery)
    assert reports[-1] == ("/dev/ttyS0", True)
