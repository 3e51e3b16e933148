"""The live migration of docs/migrating.md, end to end: a heartbeat 3.0.6 cluster becomes a
twinbeat cluster one node at a time, and the service keeps one holder throughout.

Both nodes start on Debian's heartbeat (lab/hbnode.py), auto_failback on, prime serving.
1. calc (standby) stops heartbeat and starts twinbeat: prime's heartbeat sees calc restart,
   twinbeat answers in heartbeat's protocol, prime keeps serving without a break.
2. The group is moved to calc (hb_standby on prime), prime stops heartbeat and starts
   twinbeat: the two twinbeat nodes talk twinbeat's own protocol, and the group fails back
   to prime.
"""

from __future__ import annotations

import itertools
import os
import time

import pytest
from heartbeat_lab import skip_without_heartbeat
from lab_fixtures import unique_name

from twinbeat.lab import plan as lp
from twinbeat.lab.errors import LabError, wait_for
from twinbeat.lab.lab import Lab
from twinbeat.lab.poller import Poller

pytestmark = [pytest.mark.root, pytest.mark.slow]


def holders(lab: Lab) -> set[str]:
    return {n for n in lp.NODES if lab.vip_on(n)}


def serves(lab: Lab, node: str) -> bool:
    return (holders(lab) == {node} and lab.apache(node, "status").stdout.strip() == "running"
            and lab.get() == node)


def settle(lab: Lab, node: str, timeout: float, logs: list[object]) -> None:
    try:
        wait_for(lambda: serves(lab, node), timeout, f"{node} to serve")
    except LabError:
        for daemon in logs:
            print(daemon.log.tail(60))  # type: ignore[attr-defined]
        raise


def longest_gap(poller: Poller, start: float, end: float) -> float:
    """The longest time without a successful answer in [start, end]."""
    times = [start, *poller.answered(start, end), end]
    return max(b - a for a, b in itertools.pairwise(times))


def test_live_migration_one_node_at_a_time() -> None:
    skip_without_heartbeat()
    lab = Lab.make(unique_name())
    try:
        lab.up(daemons=False, auth="md5", auto_failback="on")
        hb = {n: lab.heartbeat(n) for n in lp.NODES}
        tb = {n: lab.node(n) for n in lp.NODES}
        logs = [*hb.values(), *tb.values()]
        for node in lp.NODES:
            hb[node].start()
        settle(lab, "prime", 60, logs)

        # 1. calc: heartbeat -> twinbeat, while prime serves.
        poller = lab.poller(interval=0.02)
        begin = time.monotonic()
        hb["calc"].stop()
        tb["calc"].start()
        wait_for(lambda: (s := lab.status("calc")) is not None
                 and s["groups"][0]["holder"] == "prime", 30, "twinbeat on calc to see prime hold")
        time.sleep(5)
        end = time.monotonic()
        assert poller.bodies_between(begin, end) == {"prime"} and holders(lab) == {"prime"}
        assert not poller.lost(begin, end - 3)
        assert longest_gap(poller, begin, end) < 1.0, longest_gap(poller, begin, end)
        assert "Heartbeat restart on node calc" in hb["prime"].log.read()
        peer = lab.status("calc")["peers"][0]  # type: ignore[index]
        assert peer["protocol"] == "heartbeat-3.0.6" and peer["alive"]

        # 2. the group to calc, then prime: heartbeat -> twinbeat; failback to prime.
        assert hb["prime"].standby("all").returncode == 0
        settle(lab, "calc", 30, logs)
        hb["prime"].stop()
        assert serves(lab, "calc")
        tb["prime"].start()
        settle(lab, "prime", 60, logs)
        for node in lp.NODES:
            wait_for(lambda n=node: (s := lab.status(n)) is not None
                     and s["peers"][0]["protocol"] == "twinbeat" and s["healthy"], 30,
                     f"{node} to see its peer as a healthy twinbeat node")
        poller.close()
        for node in lp.NODES:
            errors = [line for line in hb[node].log.read().splitlines() if "ERROR" in line
                      and "Cannot lock ourselves into memory" not in line
                      and "TTY write" not in line]  # the cable of a stopped node
            assert not errors, errors
    finally:
        for daemon in hb.values() if "hb" in locals() else ():
            if daemon.running():
                daemon.kill()
        lab.down(purge=not os.environ.get("TWINBEAT_LAB_KEEP"))
