"""SerialLink over a socat pty pair (the null-modem cable), in this process.

The cable is the lab's (`twinbeat.lab.cable.Cable` on the test's harness): socat started and
stopped by PID, its pty links in tmp_path, so "the cable comes back" is socat restarted at the
same paths.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

import pytest
import trio

from twinbeat import wire
from twinbeat.config.model import Link, Serial
from twinbeat.lab.cable import Cable
from twinbeat.links.serial import SerialLink

pytestmark = pytest.mark.skipif(
    not (hasattr(wire, "Deframer") and hasattr(wire, "cobs_frame")),
    reason="twinbeat.wire has no Deframer/cobs_frame yet")

GUARD = 30


async def until(condition: Callable[[], bool]) -> None:
    """Poll a condition; the caller's fail_after bounds it."""
    while not condition():
        await trio.sleep(0.02)


def ends(cable: Cable) -> tuple[str, str]:
    return str(cable.ends[0]), str(cable.ends[1])


def serial_link(path: str, n: int) -> SerialLink:
    return SerialLink(Link(path, 0x80 + n, Serial(path)), 19200)


async def chatter(link: SerialLink, payload: bytes) -> None:
    while True:
        link.send(payload)
        await trio.sleep(0.02)


async def test_frames_both_ways_and_garbage_skipped(cable: Cable) -> None:
    with trio.fail_after(GUARD):
        a, b = ends(cable)
        got: dict[str, list[bytes]] = {a: [], b: []}
        link_a, link_b = serial_link(a, 0), serial_link(b, 1)
        async with trio.open_nursery() as nursery:
            for link in (link_a, link_b):
                await nursery.start(link.run, lambda name, data: got[name].append(data))
            assert link_a.up and link_b.up
            nursery.start_soon(chatter, link_a, b"from-a")
            nursery.start_soon(chatter, link_b, b"from-b")
            await until(lambda: b"from-a" in got[b] and b"from-b" in got[a])
            # Noise on the line towards b: invalid COBS, ended by a delimiter.
            fd = os.open(a, os.O_WRONLY | os.O_NOCTTY)
            try:
                os.write(fd, b"\x05ab\x00\x07\xff\xfe\x00")
            finally:
                os.close(fd)
            await until(lambda: link_b.deframer is not None
                        and link_b.deframer.stats.dropped_garbage >= 1)
            count = len(got[b])
            await until(lambda: len(got[b]) > count + 3)
            assert set(got[b]) == {b"from-a"}
            assert set(got[a]) == {b"from-b"}
            nursery.cancel_scope.cancel()


async def test_cable_pulled_then_replugged(cable: Cable) -> None:
    with trio.fail_after(GUARD):
        a, b = ends(cable)
        got: list[bytes] = []
        link_a, link_b = serial_link(a, 0), serial_link(b, 1)
        async with trio.open_nursery() as nursery:
            await nursery.start(link_a.run, lambda _name, data: None)
            await nursery.start(link_b.run, lambda _name, data: got.append(data))
            nursery.start_soon(chatter, link_a, b"before")
            await until(lambda: b"before" in got)
            cable.pull()
            await until(lambda: not link_a.up and not link_b.up)
            assert not link_a.send(b"dropped")  # down: dropped, counted, no exception
            assert link_a.stats.send_errors >= 1
            cable.plug()
            await until(lambda: link_a.up and link_b.up)
            nursery.start_soon(chatter, link_a, b"after")
            await until(lambda: b"after" in got)
            assert link_a.stats.reopens >= 1 and link_b.stats.reopens >= 1
            nursery.cancel_scope.cancel()


async def test_heartbeat_classic_text_goes_raw_between_twinbeat_frames(cable: Cable) -> None:
    """A heartbeat 3.0.6 message (issue #14) is written as text after a newline, so that
    heartbeat's line reader sees it whole; twinbeat's reader hands both kinds on."""
    ring = wire.Keyring({1: ("md5", b"hb-lab-secret")}, 1)
    text = wire.hb_encode_classic([(b"t", b"status"), (b"src", b"calc")], ring)
    with trio.fail_after(GUARD):
        a, b = ends(cable)
        got: list[bytes] = []
        link_a, link_b = serial_link(a, 0), serial_link(b, 1)
        async with trio.open_nursery() as nursery:
            for link in (link_a, link_b):
                await nursery.start(link.run, lambda name, data: got.append(data))
            for payload in (b"frame-1", text, b"frame-2", text):
                assert link_a.send(payload)
            await until(lambda: len(got) >= 4)
            assert got == [b"frame-1", text, b"frame-2", text]
            nursery.cancel_scope.cancel()
    with trio.fail_after(GUARD):  # on the wire: the text itself, after a line break
        a, b = ends(cable)
        link_a = serial_link(a, 0)
        fd = os.open(b, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(link_a.run, lambda name, data: None)
                assert link_a.send(text)
                seen = b""
                while not seen.endswith(b"<<<\n"):
                    await trio.sleep(0.02)
                    with contextlib.suppress(BlockingIOError):
                        seen += os.read(fd, 4096)
                nursery.cancel_scope.cancel()
        finally:
            os.close(fd)
        assert seen == b"\n" + text
