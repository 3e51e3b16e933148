"""End to end with fencing (issue #13): real daemons in the lab, the lab's power switch as the
fence device, driven through the real fence-agents protocol and the real cluster-glue.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_fixtures import logs, running_lab

from twinbeat.lab import plan as lp
from twinbeat.lab.errors import wait_for
from twinbeat.lab.fencing import (
    POWER_OFF,
    FenceSetup,
    have_stonith,
    power_state,
    switch_records,
)
from twinbeat.lab.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.slow]
BOUND = 2.0  # detection grace + group start + the client's next GET (test_lab_e2e.py)
FENCE_BUDGET = 5.0  # one run of fence_tblab or stonith external/tblab, with room for a load
KINDS = ["agent", pytest.param("stonith", marks=pytest.mark.skipif(
    not have_stonith(), reason="needs cluster-glue"))]


@contextlib.contextmanager
def fenced_cluster(kind: str = "agent", delay: str | None = None,
                   writer: bool = False) -> Iterator[Lab]:
    """A lab whose nodes fence each other through the switch, settled on prime."""
    with running_lab(daemons=False, fencing=FenceSetup(kind, delay=delay)) as lab:
        if writer:
            add_writer(lab)
        lab.start_daemons()
        try:
            wait_for(lambda: lab.converged("prime"), 30, "prime to hold the group")
        except Exception:
            print(logs(lab))
            raise
        yield lab


def fences(lab: Lab, since: float) -> list[tuple[str, str, str]]:
    """(who, action, whom) of each successful power-off the switch carried out."""
    return [(e["from"], e["action"], e["node"]) for e in switch_records(lab.plan.run_dir, since)
            if e.get("ok") and e.get("action") in ("off", "reboot")]


def budget(lab: Lab, *extra: float) -> float:
    return lab.plan.timers.deadtime_s + FENCE_BUDGET + BOUND + sum(extra)


@pytest.mark.parametrize("kind", KINDS)
def test_power_loss_fence_then_takeover(kind: str) -> None:
    with fenced_cluster(kind) as lab:
        poller = lab.poller()
        try:
            assert poller.first("prime", 0, 5)
            fault = lab.power_loss("prime")
            seen = poller.first("calc", fault, budget(lab))
            assert seen is not None, logs(lab)
            [entry] = [e for e in switch_records(lab.plan.run_dir, fault)
                       if e.get("action") in ("off", "reboot")]
            assert (entry["from"], entry["node"], entry["ok"]) == ("calc", "prime", True)
            assert entry["t"] + entry["took"] <= seen  # fenced before calc served
            fencing = (lab.status("calc") or {}).get("fencing") or {}
            assert fencing.get("peer") == "prime" and fencing.get("attempts", 0) >= 1
        finally:
            poller.close()


def test_both_cables_cut_exactly_one_serves_and_the_other_is_off() -> None:
    with fenced_cluster("agent", delay="2") as lab:
        poller = lab.poller()
        try:
            assert poller.first("prime", 0, 5)
            fault = time.monotonic()
            for node in lp.NODES:
                lab.set_link(node, lp.HB_IFACE, up=False)
            lab.cable.pull()
            limit = budget(lab, 2.0)  # + the head start
            off = wait_for(lambda: [n for n in lp.NODES
                                    if power_state(lab.plan.run_dir, n) == POWER_OFF],
                           limit, "one node to be powered off")
            time.sleep(FENCE_BUDGET)  # a second fence, if any, has had its chance
            off = [n for n in lp.NODES if power_state(lab.plan.run_dir, n) == POWER_OFF]
            assert len(off) == 1, (off, fences(lab, fault), logs(lab))
            [survivor] = [n for n in lp.NODES if n not in off]
            assert fences(lab, fault) == [(survivor, "off", off[0])]
            assert poller.first(survivor, fault, limit) is not None, logs(lab)
            late = time.monotonic()
            time.sleep(1.0)
            assert set(poller.bodies_between(late, time.monotonic())) == {survivor}
            assert time.monotonic() - fault < limit + FENCE_BUDGET + 2.0
        finally:
            poller.close()


def test_a_failing_fence_device_blocks_takeover_until_fence_ack() -> None:
    with fenced_cluster("agent") as lab:
        poller = lab.poller()
        try:
            assert poller.first("prime", 0, 5)
            lab.harness.stop("switch")  # the fence device is unreachable from now on
            fault = time.monotonic()
            lab.power_loss("prime")
            # No confirmed fence, no takeover: calc must not serve, however long we wait.
            assert poller.first("calc", fault, budget(lab)) is None, logs(lab)
            status = lab.node("calc").twinbeat("status", "--json")
            assert status.returncode == 1, status.stdout  # degraded
            fencing = json.loads(status.stdout)["fencing"]
            assert fencing["peer"] == "prime" and fencing["degraded"] is True, fencing
            assert "fence-ack prime" in lab.node("calc").twinbeat("status").stdout
            ack = time.monotonic()
            result = lab.node("calc").twinbeat("fence-ack", "prime", "--yes")
            assert result.returncode == 0, result.stderr
            assert poller.first("calc", ack, BOUND + 2.0) is not None, logs(lab)
        finally:
            poller.close()


# A writer on "shared storage": a resource of the group that appends its node's name to one
# file of the lab's every 10 ms while it runs. Two nodes both writing is the corruption
# fencing exists to prevent.
WRITER = """#!/bin/sh
PIDFILE={home}/writer.pid
alive() {{ [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }}
case "$1" in
start)
  alive "$(cat $PIDFILE 2>/dev/null)" && exit 0
  setsid sh -c 'while :; do echo "{node} $(date +%s.%N)" >> {shared}; sleep 0.01; done' \\
    </dev/null >/dev/null 2>&1 &
  echo $! > $PIDFILE; exit 0 ;;
stop)
  pid=$(cat $PIDFILE 2>/dev/null); alive "$pid" && kill "$pid"; rm -f $PIDFILE; exit 0 ;;
status)
  if alive "$(cat $PIDFILE 2>/dev/null)"; then echo running; else echo stopped; fi; exit 0 ;;
esac
exit 1
"""


def shared_file(lab: Lab) -> Path:
    return lab.plan.run_dir / "shared-disk.log"


def add_writer(lab: Lab) -> None:
    for node in lp.NODES:
        files = lab.plan.files(node)
        script = files.resource_dir / "writer"
        script.write_text(WRITER.format(home=files.home, node=node, shared=shared_file(lab)))
        os.chmod(script, 0o755)
        haresources = files.config_dir / "haresources"
        haresources.write_text(haresources.read_text().rstrip("\n") + " writer\n")


def writers(lab: Lab) -> list[tuple[str, float]]:
    try:
        lines = shared_file(lab).read_text().splitlines()
    except FileNotFoundError:
        return []
    return [(line.split()[0], float(line.split()[1])) for line in lines if len(line.split()) == 2]


def test_a_hung_peer_is_fenced_and_there_are_never_two_writers() -> None:
    with fenced_cluster("agent", writer=True) as lab:
        wait_for(lambda: any(w == "prime" for w, _ in writers(lab)), 10, "prime writing")
        fault = time.monotonic()
        lab.freeze("prime")  # SIGSTOP: prime hangs with its group held, its writer mid-write
        wait_for(lambda: any(w == "calc" for w, _ in writers(lab)), budget(lab),
                 "calc to write after fencing prime")
        assert fences(lab, fault) == [("calc", "off", "prime")], logs(lab)
        lab.thaw("prime")  # nothing of prime is left to resume: the fence killed it
        time.sleep(1.0)
        lines = writers(lab)
        first_calc = next(i for i, (w, _) in enumerate(lines) if w == "calc")
        assert all(w == "calc" for w, _ in lines[first_calc:]), "two writers"
        assert power_state(lab.plan.run_dir, "prime") == POWER_OFF
