"""End to end, issue #12: a crashed service is healed in the lab, with the real apache2.

Each story runs twice: with the lab's resource.d/apache2 script (preset `lab`) and with
resource-agents' `ocf:heartbeat:apache` (preset `ocf`). The faults are lab/service.py's:
apache2 SIGKILLed on the holder, and a squatter on port 80 that keeps it from starting.

These need both halves of issue #12: the monitor driver (this branch) and the core's policy
(restart in place, move after a failed restart, `twinbeat clear`), which decides from the
driver's `ResourceFailed` events.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
from lab_fixtures import logs, running_lab

from twinbeat.config.monitoring import DEFAULT_INTERVAL
from twinbeat.lab.errors import wait_for
from twinbeat.lab.lab import Lab
from twinbeat.lab.service import block_service, crash_service, unblock_service

pytestmark = [pytest.mark.root, pytest.mark.slow]

PRESETS = ["lab", "ocf"]
START = 2.0  # apache2's start (script or agent), the restart's stop, the client's next GET
# This machine's PID 1 reaps an orphan ~2 s after it dies; until then ocf:heartbeat:apache
# (`kill -0` on its pid file) still counts the killed apache2 as running. The lab's script
# reads /proc and is not fooled (docs/lab.md).
REAP = {"lab": 0.0, "ocf": 3.0}
# ocf:heartbeat:apache's start waits for apache2 until its timeout (meta-data: 40 s) when it
# cannot come up; the script's start fails at once.
FAILED_START = {"lab": START, "ocf": 45.0}


@contextlib.contextmanager
def cluster(preset: str) -> Iterator[Lab]:
    with running_lab(preset, daemons=True) as lab:
        try:
            wait_for(lambda: lab.converged("prime"), 30, "prime to hold the group")
            wait_for(lambda: monitored(lab, "prime"), 10, "prime to monitor its group")
        except Exception:
            print(logs(lab))
            raise
        yield lab


def resources(lab: Lab, node: str) -> list[dict]:
    status = lab.status(node) or {}
    groups = status.get("groups") or [{}]
    return list(groups[0].get("resources") or [])


def monitored(lab: Lab, node: str) -> bool:
    found = resources(lab, node)
    return bool(found) and all(r.get("monitored") for r in found)


def twinbeat_status_exit(lab: Lab, node: str) -> int:
    return lab.node(node).twinbeat("status").returncode


@pytest.mark.parametrize("preset", PRESETS)
def test_crashed_apache_is_restarted_in_place(preset: str) -> None:
    with cluster(preset) as lab:
        poller = lab.poller(interval=0.005)
        try:
            assert poller.first("prime", 0, 5), logs(lab)
            assert crash_service(lab, "prime")
            fault = time.monotonic()
            bound = DEFAULT_INTERVAL + REAP[preset] + START
            seen = poller.first("prime", fault, bound + 10)
            assert seen is not None, logs(lab)
            assert seen - fault <= bound, (seen - fault, logs(lab))
            assert poller.bodies_between(fault, time.monotonic()) == {"prime"}  # never moved
            assert lab.vip_on("prime") and not lab.vip_on("calc")
            apache = resources(lab, "prime")[1]
            assert apache["fail_count"] == 1, apache
            assert apache["last_failure"], apache
            wait_for(lambda: monitored(lab, "prime"), 5, "monitoring re-armed after the restart")
            # a counted failure makes the cluster degraded until it expires or is cleared
            assert lab.status("prime")["healthy"] is False
            assert twinbeat_status_exit(lab, "prime") == 1
            result = lab.node("prime").twinbeat("clear")
            assert result.returncode == 0, result.stderr
            wait_for(lambda: (lab.status("prime") or {}).get("healthy") is True, 5,
                     "the cluster healthy again after twinbeat clear")
        finally:
            poller.close()


@pytest.mark.parametrize("preset", PRESETS)
def test_apache_that_cannot_start_moves_to_the_peer_and_clear_brings_it_back(
        preset: str) -> None:
    with cluster(preset) as lab:
        poller = lab.poller(interval=0.005)
        try:
            assert poller.first("prime", 0, 5), logs(lab)
            crash_service(lab, "prime")
            block_service(lab, "prime")
            fault = time.monotonic()
            bound = (DEFAULT_INTERVAL + REAP[preset] + FAILED_START[preset]
                     + lab.plan.timers.deadtime_s + START)
            seen = poller.first("calc", fault, bound + 10)
            assert seen is not None, logs(lab)
            assert seen - fault <= bound, (seen - fault, logs(lab))
            wait_for(lambda: lab.converged("calc"), 10, "calc to hold the group")
            prime = lab.status("prime")
            assert prime is not None and prime["groups"][0]["failed_here"] is True, prime
            assert prime["healthy"] is False
            assert not lab.vip_on("prime")
            # auto_failback on, prime alive: still the group stays away from where it failed
            time.sleep(3 * lab.plan.timers.deadtime_s)
            assert lab.converged("calc"), logs(lab)

            unblock_service(lab, "prime")
            back = time.monotonic()
            result = lab.node("prime").twinbeat("clear")
            assert result.returncode == 0, result.stderr
            assert poller.first("prime", back, 20), logs(lab)
            wait_for(lambda: lab.converged("prime"), 10, "failback to prime after clear")
            assert lab.status("prime")["groups"][0]["failed_here"] is False
        finally:
            poller.close()


def test_clear_of_an_unknown_group_is_refused() -> None:
    with running_lab("lab", daemons=True) as lab:
        result = lab.node("prime").twinbeat("clear", "nosuchgroup")
        assert result.returncode == 1
        assert "clear: no group 'nosuchgroup'" in result.stderr
