"""links/udp.py checks that its interface is still there and up: every second when nothing
else tells it, but when its rtnetlink events are watched (`carrier`), only when an event
names the interface, with a slow safety net (issue #17: the lookup a second was 3 % of an idle
daemon's CPU at a 10 ms keepalive). On loopback, in virtual time; nothing is sent."""

from __future__ import annotations

import pytest
import trio

from twinbeat.config.model import Link, Ucast
from twinbeat.links import udp
from twinbeat.links.udp import CHECK_AFTER_EVENT, CHECK_INTERVAL, WATCHED_CHECK_INTERVAL, UdpLink

PORT = 10695
RUN = 65.0  # virtual seconds


def counted_lookups(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    calls: list[float] = []
    real = udp.lookup

    def lookup(ipr: object, iface: str) -> object:
        calls.append(trio.current_time())
        return real(ipr, iface)  # type: ignore[arg-type]

    monkeypatch.setattr(udp, "lookup", lookup)
    return calls


def loopback_link() -> UdpLink:
    # A ucast peer that is not one of our addresses, so the link opens; it is never sent to.
    return UdpLink(Link("lo", 0, Ucast("lo", ("127.0.0.2",))), PORT)


async def test_a_watched_interface_is_not_polled(monkeypatch, autojump_clock) -> None:
    calls = counted_lookups(monkeypatch)
    link = loopback_link()
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: link.run(
            lambda name, data: False, carrier=lambda name, up: None, task_status=task_status))
        assert link.up
        await trio.sleep(RUN)
        assert len(calls) == 1 + int(RUN // WATCHED_CHECK_INTERVAL)  # the open, the net
        link._check_soon()  # what an rtnetlink event naming the interface does
        await trio.sleep(CHECK_AFTER_EVENT + 0.001)
        assert len(calls) == 2 + int(RUN // WATCHED_CHECK_INTERVAL)
        nursery.cancel_scope.cancel()


async def test_an_unwatched_interface_is_checked_every_interval(monkeypatch,
                                                                autojump_clock) -> None:
    calls = counted_lookups(monkeypatch)
    link = loopback_link()
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: link.run(
            lambda name, data: False, task_status=task_status))
        await trio.sleep(RUN)
        assert len(calls) >= RUN // CHECK_INTERVAL
        nursery.cancel_scope.cancel()


async def test_a_link_gone_down_is_checked_within_the_short_interval(monkeypatch,
                                                                     autojump_clock) -> None:
    """A send that fails (ENETDOWN...) takes the link down: it is checked (and reopened if
    the interface allows) within CHECK_INTERVAL, watched or not."""
    calls = counted_lookups(monkeypatch)
    link = loopback_link()
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: link.run(
            lambda name, data: False, carrier=lambda name, up: None, task_status=task_status))
        await trio.sleep(1.0)
        link._set_down("send: Network is down")
        await trio.sleep(CHECK_INTERVAL + 0.1)
        assert len(calls) >= 2 and link.up  # checked, closed and opened again
        nursery.cancel_scope.cancel()
