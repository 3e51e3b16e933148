"""resources/route.py: an agent's netlink socket is opened once and kept (issue #17: each
open was ~0.7 ms of a takeover), reopened after any failure but the kernel's answer."""

from __future__ import annotations

import errno

import pytest
from pyroute2.netlink.exceptions import NetlinkError

from twinbeat.resources import route
from twinbeat.resources.route import KeptRoute


class FakeRoute:
    opened: list[FakeRoute] = []

    def __init__(self) -> None:
        self.closed = False
        FakeRoute.opened.append(self)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> list[FakeRoute]:
    FakeRoute.opened = []
    monkeypatch.setattr(route, "IPRoute", FakeRoute)
    return FakeRoute.opened


def test_one_socket_serves_every_operation_and_a_kernel_refusal(fake) -> None:
    kept = KeptRoute()
    for _ in range(3):
        with kept.use():
            pass
    with pytest.raises(NetlinkError), kept.use():
        raise NetlinkError(errno.EEXIST, "File exists")
    with kept.use() as ipr:
        assert ipr is fake[0]
    assert len(fake) == 1 and not fake[0].closed


def test_any_other_failure_closes_it_and_the_next_use_opens_a_fresh_one(fake) -> None:
    kept = KeptRoute()
    with pytest.raises(OSError), kept.use():
        raise OSError(errno.ENOBUFS, "No buffer space available")
    assert fake[0].closed
    with kept.use() as ipr:
        assert ipr is fake[1] and not ipr.closed
    kept.close()
    assert fake[1].closed
