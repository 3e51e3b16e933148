"""A standby's IPaddr start is prepared (resources/ipaddr.py `_prepare`, vipplan.py): the
takeover's first netlink request is the add itself (issue #17), and a plan gone stale is
made again. Against a recording stand-in for pyroute2's IPRoute: the link is NOARP, so no
gratuitous ARP leaves this machine."""

from __future__ import annotations

import errno
from typing import Any

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from twinbeat.config.model import IPaddrResource
from twinbeat.resources import ipaddr, route, vipplan
from twinbeat.resources.garp import IFF_NOARP

VIP = "198.18.65.100"


class RecordingRoute:
    """The netlink requests an agent makes, answered from a tiny model of one interface."""

    calls: list[str] = []
    index = 7
    gone: set[int] = set()  # indexes of interfaces deleted since (a stale plan's)
    addresses: list[dict[str, Any]] = []

    def link(self, op: str, *, ifname: str) -> list[dict[str, Any]]:
        RecordingRoute.calls.append("link-get")
        return [self._link()]

    def get_links(self, index: int) -> list[dict[str, Any]]:
        RecordingRoute.calls.append("get-links")
        return [self._link()]

    def get_addr(self, **query: Any) -> list[dict[str, Any]]:
        RecordingRoute.calls.append("get-addr")
        return list(RecordingRoute.addresses)

    def addr(self, op: str, **request: Any) -> None:
        RecordingRoute.calls.append(f"addr-{op}")
        if request.get("index") in RecordingRoute.gone:
            raise NetlinkError(errno.ENODEV, "No such device")
        if op == "add":
            RecordingRoute.addresses.append({**request, "label": request.get("label")})
        else:
            RecordingRoute.addresses.clear()

    def close(self) -> None:
        pass

    def _link(self) -> dict[str, Any]:
        return {"index": RecordingRoute.index, "ifname": "eth0", "ifi_type": 1,
                "address": "02:00:00:00:00:07", "flags": IFF_NOARP}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    RecordingRoute.calls, RecordingRoute.index = [], 7
    RecordingRoute.gone, RecordingRoute.addresses = set(), []
    monkeypatch.setattr(route, "IPRoute", RecordingRoute)
    monkeypatch.setattr(vipplan, "_HELD_LABELS", {})  # this process's agents: these only
    return RecordingRoute.calls


def agent(address: str = VIP, prefixlen: int | None = 24) -> ipaddr.IPaddrAgent:
    return ipaddr.IPaddrAgent(IPaddrResource("IPaddr", address, prefixlen, "eth0", None,
                                             f"IPaddr::{address}"))


async def test_a_standby_probe_prepares_and_the_start_adds_first(calls: list[str]) -> None:
    standby = agent()
    assert await standby.status() is False
    calls.clear()
    await standby.start()
    assert calls[0] == "addr-add" and calls.count("addr-add") == 1
    assert RecordingRoute.addresses[0]["label"] == "eth0:0"


async def test_a_stale_plan_is_made_again(calls: list[str]) -> None:
    standby = agent()
    await standby.status()
    RecordingRoute.gone, RecordingRoute.index = {7}, 8  # eth0 was deleted and made again
    calls.clear()
    await standby.start()
    assert calls[:2] == ["addr-add", "link-get"]  # refused (ENODEV), then planned again
    assert RecordingRoute.addresses[0]["index"] == 8


async def test_a_label_another_group_took_meanwhile_is_not_used_twice(calls) -> None:
    """A takeover starts every group: two standbys prepared the same free label."""
    first, second = agent(), agent("198.18.65.101")
    await first.status()
    await second.status()
    await first.start()
    await second.start()
    assert [a["label"] for a in RecordingRoute.addresses] == ["eth0:0", "eth0:1"]
    await first.stop()  # gives eth0:0 back


async def test_without_an_interface_and_prefix_nothing_is_prepared(calls: list[str]) -> None:
    """A covering address decides the prefix: it may change before the takeover."""
    standby = agent(prefixlen=None)
    RecordingRoute.addresses = [{"address": "198.18.65.1", "prefixlen": 24, "index": 7}]
    await standby.status()
    calls.clear()
    await standby.start()
    assert calls[0] == "link-get"
