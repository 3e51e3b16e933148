"""End to end: real daemons in the lab, faults injected, failover seen from the client.

Each test builds its own lab (unique name) so that a fault in one cannot leak into another;
the lab is torn down in the fixture's finalizer even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import signal
import time
from collections.abc import Iterator

import pytest
from harness_fixtures import capture_udp, send_udp
from lab_fixtures import logs, running_lab

from twinbeat.lab import plan as lp
from twinbeat.lab.errors import wait_for
from twinbeat.lab.lab import Lab
from twinbeat.lab.poller import Poller
from twinbeat.wire import MAX_FRAME, Keyring, cobs_frame, encode

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
]

BOUND = 2.0  # seconds past deadtime for detection + group start + the client's next GET


@contextlib.contextmanager
def cluster(preset: str = "lab", holder: str | None = "prime", **options: object) -> Iterator[Lab]:
    """A lab with both daemons, settled with `holder` holding the group (None: either)."""
    with running_lab(preset, daemons=True, **options) as lab:
        try:
            wait_for(
                lambda: any(lab.converged(n) for n in ([holder] if holder else lp.NODES)),
                30,
                f"{holder or 'a node'} to hold the group",
            )
        except Exception:
            print(logs(lab))
            raise
        yield lab


@pytest.fixture
def lab() -> Iterator[Lab]:
    with cluster() as lab:
        yield lab


@pytest.fixture
def howto_lab() -> Iterator[Lab]:
    with cluster("howto") as lab:
        yield lab


def _poll(lab: Lab) -> Poller:
    return lab.poller(interval=0.005)


def _group(snapshot: dict) -> dict:
    return snapshot["groups"][0]


def _holders(lab: Lab) -> set[str]:
    return {node for node in lp.NODES if lab.vip_on(node)}


# 1 ---------------------------------------------------------------------------------------


def test_start_prime_holds_vip_and_apache(lab: Lab) -> None:
    assert _holders(lab) == {"prime"}
    assert lab.apache("prime", "status").stdout.strip() == "running"
    assert lab.apache("calc", "status").stdout.strip() == "stopped"
    assert lab.get() == "prime"
    prime, calc = lab.status("prime"), lab.status("calc")
    assert prime and calc
    assert _group(prime)["holder"] == _group(calc)["holder"] == "prime"
    assert _group(prime)["state"] == "held"
    assert _group(calc)["state"] == "none"
    for snapshot, peer in ((prime, "calc"), (calc, "prime")):
        assert snapshot["healthy"]
        assert [p["name"] for p in snapshot["peers"]] == [peer]
        assert snapshot["peers"][0]["alive"]
        names = sorted(link["name"] for link in snapshot["links"])
        assert len(names) == 2 and "eth1" in names  # the NIC and the serial cable
        assert all(link["up"] for link in snapshot["links"])


# 2 ---------------------------------------------------------------------------------------


def test_power_loss_then_failback(lab: Lab) -> None:
    poller = _poll(lab)
    try:
        assert poller.first("prime", 0, 5)
        fault = lab.power_loss("prime")
        seen = poller.first("calc", fault, lab.plan.timers.deadtime_s + BOUND)
        assert seen is not None, logs(lab)
        # The cables said so (eth1's carrier, the pty's hang-up): no deadtime to wait.
        assert seen - fault < lab.plan.timers.deadtime_s / 2, logs(lab)
        back = time.monotonic()
        lab.power_on("prime")
        assert poller.first("prime", back, 20), logs(lab)
        wait_for(lambda: lab.converged("prime"), 10, "failback to settle")
        assert _holders(lab) == {"prime"}  # the crashed VIP was stopped, calc released its own
        assert lab.apache("calc", "status").stdout.strip() == "stopped"
    finally:
        poller.close()


def test_power_loss_stays_on_calc_with_auto_failback_off() -> None:
    with cluster(holder=None, auto_failback="off") as lab:
        if not lab.converged("prime"):  # with auto_failback off either node may start first
            assert lab.node("prime").twinbeat("takeover").returncode == 0
            wait_for(lambda: lab.converged("prime"), 10, "prime to take the group")
        lab.power_loss("prime")
        wait_for(lambda: lab.vip_on("calc") and lab.get() == "calc", 10, "calc to serve")
        lab.power_on("prime")
        wait_for(lambda: lab.converged("calc"), 15, "prime to rejoin as standby")
        time.sleep(3 * lab.plan.timers.deadtime_s)
        assert lab.converged("calc")
        assert _holders(lab) == {"calc"}
        assert lab.get() == "calc"


# 3 ---------------------------------------------------------------------------------------


def test_graceful_stop_hands_over_well_before_deadtime(howto_lab: Lab) -> None:
    lab = howto_lab
    poller = _poll(lab)
    try:
        assert poller.first("prime", 0, 5)
        fault = time.monotonic()
        lab.node("prime").signal(signal.SIGTERM)
        seen = poller.first("calc", fault, lab.plan.timers.deadtime_s + BOUND)
        assert seen is not None, logs(lab)
        assert seen - fault < lab.plan.timers.deadtime_s / 3, logs(lab)
        assert not lab.vip_on("prime")
        assert lab.apache("prime", "status").stdout.strip() == "stopped"
    finally:
        poller.close()


# 4 ---------------------------------------------------------------------------------------


def _link(snapshot: dict, name_part: str) -> dict:
    return next(link for link in snapshot["links"] if name_part in link["name"])


def test_one_cable_cut_is_no_takeover(lab: Lab) -> None:
    deadtime = lab.plan.timers.deadtime_s
    ha_log_size = lab.plan.files("calc").ha_log.stat().st_size
    lab.set_link("prime", "eth1", up=False)
    time.sleep(3 * deadtime)
    for node in lp.NODES:
        snapshot = lab.status(node)
        assert snapshot is not None
        assert not _link(snapshot, "eth1")["up"], snapshot
        assert _link(snapshot, ".tty")["up"], snapshot
        assert snapshot["peers"][0]["alive"]
        assert _group(snapshot)["holder"] == "prime"
    assert _holders(lab) == {"prime"}
    with open(lab.plan.files("calc").ha_log, "rb") as f:
        f.seek(ha_log_size)
        new = f.read().decode(errors="replace").lower()
    assert "eth1" in new and ("dead" in new or "down" in new), new

    lab.set_link("prime", "eth1", up=True)
    wait_for(lambda: lab.converged("prime"), 10, "eth1 to come back")
    lab.cable.pull()
    time.sleep(3 * deadtime)
    for node in lp.NODES:
        snapshot = lab.status(node)
        assert snapshot is not None
        assert not _link(snapshot, ".tty")["up"], snapshot
        assert _group(snapshot)["holder"] == "prime"
    assert _holders(lab) == {"prime"}


def test_both_cut_takeover_then_heal_one_holder_and_garp(lab: Lab) -> None:
    assert lab.get() == "prime"  # the client's ARP cache now has an entry for the VIP
    lab.set_link("prime", "eth1", up=False)
    lab.cable.pull()
    wait_for(
        lambda: (s := lab.status("calc")) and _group(s)["state"] == "held",
        lab.plan.timers.deadtime_s + BOUND,
        "calc to take over when both links are cut",
    )
    wait_for(lambda: lab.client_neighbour() == lab.mac("calc"), 5, "calc's GARP")
    lab.set_link("prime", "eth1", up=True)
    lab.cable.plug()
    wait_for(lambda: lab.converged("prime"), 20, "one holder after the links heal")
    wait_for(lambda: _holders(lab) == {"prime"}, 5, "only prime to keep the VIP")
    # The holder re-announced the VIP: the client's ARP cache points at prime's eth0.
    wait_for(lambda: lab.client_neighbour() == lab.mac("prime"), 5, "a GARP from the holder")
    assert lab.get() == "prime"


# 5 ---------------------------------------------------------------------------------------


def test_standby_and_takeover_move_the_group(lab: Lab) -> None:
    poller = _poll(lab)
    try:
        t = time.monotonic()
        result = lab.node("prime").twinbeat("standby")
        assert result.returncode == 0, result.stderr
        assert poller.first("calc", t, 10), logs(lab)
        wait_for(lambda: lab.converged("calc"), 10, "calc to hold after standby")
        assert _holders(lab) == {"calc"}
        t = time.monotonic()
        result = lab.node("prime").twinbeat("takeover")
        assert result.returncode == 0, result.stderr
        assert poller.first("prime", t, 10), logs(lab)
        wait_for(lambda: lab.converged("prime"), 10, "prime to hold after takeover")
        assert _holders(lab) == {"prime"}
    finally:
        poller.close()


# 6 ---------------------------------------------------------------------------------------

def _bad_counters(snapshot: dict) -> int:
    total = 0
    for link in snapshot["links"]:
        total += sum(link.get("rejected", {}).values())
        total += link.get("replayed", 0) + link.get("duplicates", 0)
    return total


def test_hostile_input_on_both_links(lab: Lab) -> None:
    prime_eth1 = lp.HB_ADDR["prime"]
    valid = capture_udp(lab.harness, lab.netns("calc"), prime_eth1, count=5)
    assert len(valid) == 5
    rng = random.Random(6)
    wrong_key = Keyring({1: ("sha256", secrets.token_bytes(32))}, 1)
    forged = encode(
        wrong_key,
        sender="calc",
        fingerprint=0,
        generation=1,
        sequence=1,
        timestamp_ms=0,
        echo_ms=0,
        echo_delay_ms=0,
        link_id=0,
        node_state=0,
        node_flags=0,
        groups=b"",
    )
    garbage = [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300))) for _ in range(50)]
    truncated = [frame[: rng.randrange(1, len(frame))] for frame in valid for _ in range(5)]
    hostile = garbage + truncated + [forged] * 5 + valid * 3  # valid ones replayed

    poller = _poll(lab)
    try:
        before = _bad_counters(lab.status("prime"))
        t = time.monotonic()
        for _ in range(3):
            send_udp(lab.harness, lab.netns("calc"), hostile, prime_eth1)
            # The serial link: garbage, truncated and forged frames into calc's end of the
            # cable (prime reads them), COBS-framed and raw.
            fd = os.open(lab.plan.tty("calc"), os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                for data in hostile:
                    blobs = [data + b"\x00"]
                    if len(data) <= MAX_FRAME:
                        blobs.append(cobs_frame(data))
                    for blob in blobs:
                        try:
                            os.write(fd, blob)
                        except BlockingIOError:
                            time.sleep(0.01)
            finally:
                os.close(fd)
            time.sleep(lab.plan.timers.deadtime_s)
        for node in lp.NODES:
            assert lab.node(node).running(), logs(lab)
        after = lab.status("prime")
        assert after is not None
        assert _bad_counters(after) > before
        assert lab.converged("prime"), logs(lab)
        assert poller.bodies_between(t, time.monotonic()) == {"prime"}
        assert _holders(lab) == {"prime"}
    finally:
        poller.close()
