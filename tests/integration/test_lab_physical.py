"""End to end: the cables' own signals (issue #17, docs/links.md) with a conservative deadtime.

The lab's `howto` preset (keepalive 2 s, deadtime 10 s). A power loss downs prime's NICs and
cuts the socat cable, so calc sees eth1's carrier go (rtnetlink) and its pty hang up: it takes
over in far less than deadtime. A killed daemon leaves the NICs and the cable as they are (a
pty has no DTR to drop): calc waits deadtime, as before.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest
from lab_fixtures import logs, serving_lab

from twinbeat.lab.errors import wait_for
from twinbeat.lab.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.slow]

PHYSICAL = 1.0  # s: "far less than deadtime" (10 s), detection + start + the next GET
BOUND = 2.0  # s past deadtime for the timers' takeover


@pytest.fixture
def lab() -> Iterator[Lab]:
    with serving_lab("howto") as lab:
        yield lab


def test_power_loss_fails_over_in_far_less_than_deadtime(lab: Lab) -> None:
    poller = lab.poller(interval=0.005)
    try:
        assert poller.first("prime", 0, 5)
        fault = lab.power_loss("prime")
        seen = poller.first("calc", fault, lab.plan.timers.deadtime_s + BOUND)
        assert seen is not None, logs(lab)
        assert seen - fault < PHYSICAL, logs(lab)
        wait_for(lambda: "node prime: is dead" in lab.node("calc").log.read(), 5, "the log")
        log = lab.node("calc").log.read()
        assert "Link prime:eth1 dead (carrier lost)." in log, log
        assert "calc.tty dead (carrier lost)." in log, log  # the pty hung up
    finally:
        poller.close()


def test_a_killed_daemon_with_its_nics_up_still_waits_deadtime(lab: Lab) -> None:
    poller = lab.poller(interval=0.005)
    try:
        assert poller.first("prime", 0, 5)
        fault = time.monotonic()
        lab.node("prime").signal(signal.SIGKILL)
        timers = lab.plan.timers
        seen = poller.first("calc", fault, timers.deadtime_s + BOUND)
        assert seen is not None, logs(lab)
        # prime's last heartbeat left at most a keepalive before the kill.
        assert seen - fault >= timers.deadtime_s - timers.keepalive_s, logs(lab)
        assert "carrier lost" not in lab.node("calc").log.read(), logs(lab)
    finally:
        poller.close()
