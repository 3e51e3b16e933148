"""End to end: a pause of the whole host is not a failure of the peer (core/pause.py).

Both lab nodes run on this one machine, and when its hypervisor deschedules it for 50 ms
both daemons stop at once. At the `fast` preset (40 ms deadtime) the first to wake used to
declare its peer dead and take its group over before reading the frames that said otherwise
(issue #17, false takeovers). Here both daemons are SIGSTOPped for five deadtimes and
continued, the standby first: neither declares the other dead, and nothing moves.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest
from lab_fixtures import logs, serving_lab

from twinbeat.lab.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture
def lab() -> Iterator[Lab]:
    with serving_lab("fast") as lab:
        yield lab


def test_both_nodes_paused_together_wake_without_a_takeover(lab: Lab) -> None:
    prime, calc = lab.node("prime"), lab.node("calc")
    marks = {name: lab.node(name).log.mark() for name in ("prime", "calc")}
    deadtime = lab.plan.timers.deadtime_s
    for _ in range(3):
        prime.signal(signal.SIGSTOP)
        calc.signal(signal.SIGSTOP)
        time.sleep(5 * deadtime)
        calc.signal(signal.SIGCONT)  # the standby wakes first: it would take over
        prime.signal(signal.SIGCONT)
        time.sleep(20 * deadtime)
    after = {name: lab.node(name).log.read(marks[name]) for name in marks}
    assert "is dead" not in after["calc"], logs(lab)
    assert "is dead" not in after["prime"], logs(lab)
    assert "acquiring resource group" not in after["calc"], logs(lab)
    assert lab.converged("prime")
    for name in ("prime", "calc"):
        status = lab.status(name)
        assert status is not None and status["pauses"] >= 3, status
        assert status["longest_pause"] >= 5 * deadtime, status
