"""The metrics collector (metrics/collector.py): a hand-made snapshot in, Prometheus text out,
read back with prometheus_client's own text parser."""

from __future__ import annotations

from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from twinbeat.core import (
    FenceRecord,
    FenceSnapshot,
    GroupSnapshot,
    PeerLinkSnapshot,
    PeerSnapshot,
    Snapshot,
)
from twinbeat.core.snapshot import LinkCounters, LinkSnapshot, ResourceSnapshot
from twinbeat.metrics.collector import Readings, SnapshotCollector
from twinbeat.metrics.looplag import BUCKETS, LagStats

GROUP = "IPaddr2::2001:db8::10/64/eth0"
SERVICE = "apache2"


def link(name: str, *, up: bool | None, rtt: float | None, frames_ok: int,
         rejected: dict[str, int]) -> PeerLinkSnapshot:
    return PeerLinkSnapshot(
        name=name, up=up, last_heard_age=None if up is None else 0.25, rtt=rtt, max_gap=0.4,
        deadtime_margin=0.6,
        counters=LinkCounters(frames_ok=frames_ok, duplicates=4, stale=1, replayed=7,
                              unechoed=2, late=3, rejected=rejected))


SNAPSHOT = Snapshot(
    node="calc", state="active", generation=9, now=100.0, ping_ok=True,
    peers=(PeerSnapshot(
        name="prime", alive=True, generation=41, state="active", last_heard_age=0.25,
        config_match=True, ping_ok=None,
        links=(link("eth1", up=True, rtt=0.0004, frames_ok=120, rejected={"link": 5}),
               link("/dev/ttyS0", up=None, rtt=None, frames_ok=0, rejected={}))),),
    links=(LinkSnapshot("eth1", {"mac": 11, "length": 2}),),
    groups=(GroupSnapshot(
        key=GROUP, primary="prime", holder="calc", local_state="held", standby=False,
        takeover=False, last_change=90.0, fail_count=1, last_failure=f"{SERVICE}: stopped",
        failed_here=False,
        resources=(ResourceSnapshot(0, GROUP, 0, None),
                   ResourceSnapshot(1, SERVICE, 1, f"{SERVICE}: stopped")),
        acquired=3, takeovers=2, failovers=1),),
    fencing=FenceSnapshot(
        state="fenced", peer="prime", attempts=2, last_result="fenced", since=95.0,
        next_attempt=None, degraded=False, reason=None,
        history=(FenceRecord(94.0, "failed", "timed out"), FenceRecord(95.0, "fenced", None)),
        attempts_total=5, results={"failed": 3, "fenced": 2}),
)
CHECKS = {GROUP: [
    {"text": GROUP, "monitored": True, "check": "ok", "check_age": 1.5, "checks": 20,
     "check_failures": 0},
    {"text": SERVICE, "monitored": True, "check": "not-running", "check_age": 0.5,
     "checks": 20, "check_failures": 2},
]}
DRIVERS = {"eth1": {"open": True, "sent": 130, "send_errors": 1, "received": 140,
                    "oversize_dropped": 0, "reopens": 0, "queue_full_dropped": 6},
           "/dev/ttyS0": {"open": False, "sent": 0, "send_errors": 0, "received": 0,
                          "oversize_dropped": 0, "reopens": 2, "queue_full_dropped": 0,
                          "serial_garbage_bytes": 17, "serial_oversize_frames": 1}}
DEVICES = [{"device": "fence_dummy", "program": "/usr/sbin/fence_dummy", "check": "ok",
            "detail": None, "fenced": 2, "failed": 3, "checked_age": 50.0}]


def scrape(readings: Readings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of one scrape: (name, sorted labels) -> value, parsed from the text."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(lambda: readings))
    text = generate_latest(registry).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("twinbeat_"), family.name
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, f"{key} twice"
            samples[key] = s.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def names(samples: dict) -> set[str]:
    return {name for name, _ in samples}


@pytest.fixture
def full() -> dict:
    lag = LagStats()
    for sample in (0.0002, 0.0004, 0.003, 0.08):
        lag.add(sample)
    return scrape(Readings(SNAPSHOT, CHECKS, DRIVERS, DEVICES, lag,
                           {"ok": 4, "busy": 1}, "0.1.0"))


def test_node_and_peer(full: dict) -> None:
    assert value(full, "twinbeat_node_info", node="calc", peer="prime", version="0.1.0") == 1
    assert value(full, "twinbeat_node_phase", phase="active") == 1
    assert value(full, "twinbeat_node_phase", phase="leaving") == 0
    assert value(full, "twinbeat_generation") == 9
    assert value(full, "twinbeat_ping_ok") == 1
    # the serial link is not up and a resource failed: degraded, as `twinbeat status` says
    assert value(full, "twinbeat_healthy") == 0
    assert value(full, "twinbeat_peer_alive", peer="prime") == 1
    assert value(full, "twinbeat_peer_generation", peer="prime") == 41
    assert value(full, "twinbeat_peer_last_heard_age_seconds", peer="prime") == 0.25


def test_links(full: dict) -> None:
    eth = {"peer": "prime", "link": "eth1"}
    tty = {"peer": "prime", "link": "/dev/ttyS0"}
    assert value(full, "twinbeat_link_up", **eth) == 1
    assert value(full, "twinbeat_link_up", **tty) == 0  # never heard yet counts as down
    assert value(full, "twinbeat_link_rtt_seconds", **eth) == 0.0004
    assert ("twinbeat_link_rtt_seconds", tuple(sorted(tty.items()))) not in full  # unknown
    assert value(full, "twinbeat_link_last_heard_age_seconds", **eth) == 0.25
    assert value(full, "twinbeat_link_frames_ok_total", **eth) == 120
    assert value(full, "twinbeat_link_replayed_total", **eth) == 7
    assert value(full, "twinbeat_link_worst_gap_seconds", **eth) == 0.4
    assert value(full, "twinbeat_link_deadtime_margin_seconds", **eth) == 0.6
    assert value(full, "twinbeat_link_rejected_total", reason="link", **eth) == 5
    assert value(full, "twinbeat_link_unattributed_total", link="eth1", reason="mac") == 11
    assert value(full, "twinbeat_link_unattributed_total", link="eth1", reason="length") == 2
    assert value(full, "twinbeat_link_open", link="eth1") == 1
    assert value(full, "twinbeat_link_open", link="/dev/ttyS0") == 0
    assert value(full, "twinbeat_link_send_errors_total", link="eth1") == 1
    assert value(full, "twinbeat_link_queue_full_dropped_total", link="eth1") == 6
    assert value(full, "twinbeat_link_serial_garbage_bytes_total", link="/dev/ttyS0") == 17
    assert ("twinbeat_link_serial_garbage_bytes_total", (("link", "eth1"),)) not in full


def test_groups_and_resources(full: dict) -> None:
    assert value(full, "twinbeat_group_holder_is_self", group=GROUP) == 1
    assert value(full, "twinbeat_group_held", group=GROUP) == 1
    assert value(full, "twinbeat_group_state", group=GROUP, state="held") == 1
    assert sum(v for (n, _), v in full.items() if n == "twinbeat_group_state") == 1
    assert value(full, "twinbeat_group_state_age_seconds", group=GROUP) == 10
    assert value(full, "twinbeat_group_acquisitions_total", group=GROUP) == 3
    assert value(full, "twinbeat_group_takeovers_total", group=GROUP) == 2
    assert value(full, "twinbeat_group_failovers_total", group=GROUP) == 1
    assert value(full, "twinbeat_group_fail_count", group=GROUP) == 1
    svc = {"group": GROUP, "resource": SERVICE}
    assert value(full, "twinbeat_resource_fail_count", **svc) == 1
    assert value(full, "twinbeat_resource_check_result", result="not-running", **svc) == 1
    assert value(full, "twinbeat_resource_check_result", result="ok", **svc) == 0
    assert value(full, "twinbeat_resource_check_result", result="ok", group=GROUP,
                 resource=GROUP) == 1
    assert value(full, "twinbeat_resource_checks_total", **svc) == 20
    assert value(full, "twinbeat_resource_check_failures_total", **svc) == 2
    assert value(full, "twinbeat_resource_check_age_seconds", **svc) == 0.5
    assert value(full, "twinbeat_resource_monitored", **svc) == 1


def test_fencing(full: dict) -> None:
    assert value(full, "twinbeat_fence_state", peer="prime", state="fenced") == 1
    assert value(full, "twinbeat_fence_degraded", peer="prime") == 0
    assert value(full, "twinbeat_fence_attempts_total", peer="prime") == 5
    assert value(full, "twinbeat_fence_current_attempts", peer="prime") == 2
    assert value(full, "twinbeat_fence_results_total", peer="prime", result="failed") == 3
    assert value(full, "twinbeat_fence_results_total", peer="prime", result="cancelled") == 0
    assert value(full, "twinbeat_fence_device_runs_total", device="fence_dummy",
                 result="failed") == 3
    assert value(full, "twinbeat_fence_device_check_ok", device="fence_dummy") == 1


def test_loop_lag_and_the_endpoint(full: dict) -> None:
    assert value(full, "twinbeat_loop_lag_seconds_count") == 4
    assert value(full, "twinbeat_loop_lag_seconds_sum") == pytest.approx(0.0836)
    assert value(full, "twinbeat_loop_lag_seconds_bucket", le="0.001") == 2
    assert value(full, "twinbeat_loop_lag_seconds_bucket", le="0.005") == 3
    assert value(full, "twinbeat_loop_lag_seconds_bucket", le="+Inf") == 4
    assert len([n for n, _ in full if n == "twinbeat_loop_lag_seconds_bucket"]) == \
        len(BUCKETS) + 1
    assert value(full, "twinbeat_loop_lag_max_seconds") == 0.08
    assert value(full, "twinbeat_metrics_requests_total", outcome="ok") == 4
    assert value(full, "twinbeat_metrics_requests_total", outcome="busy") == 1


def test_what_is_not_configured_is_not_exported() -> None:
    bare = replace(SNAPSHOT, fencing=None, ping_ok=None, peers=(), links=())
    samples = scrape(Readings(bare))
    assert not {n for n in names(samples) if n.startswith(("twinbeat_fence_state",
                                                            "twinbeat_fence_attempts",
                                                            "twinbeat_loop_lag",
                                                            "twinbeat_peer_",
                                                            "twinbeat_ping_ok"))}
    assert value(samples, "twinbeat_node_info", node="calc", peer="", version="") == 1
    assert value(samples, "twinbeat_group_holder_is_self", group=GROUP) == 1


def test_a_group_held_by_the_peer_or_nobody() -> None:
    peer_holds = replace(SNAPSHOT.groups[0], holder="prime", local_state="none")
    nobody = replace(SNAPSHOT.groups[0], key="other", holder=None, local_state="none")
    samples = scrape(Readings(replace(SNAPSHOT, groups=(peer_holds, nobody))))
    assert value(samples, "twinbeat_group_holder_is_self", group=GROUP) == 0
    assert value(samples, "twinbeat_group_held", group=GROUP) == 1
    assert value(samples, "twinbeat_group_held", group="other") == 0
    assert value(samples, "twinbeat_group_state", group="other", state="none") == 1


def test_label_values_with_quotes_and_backslashes_survive() -> None:
    odd = 'svc::"quoted"\\path'
    group = replace(SNAPSHOT.groups[0], key=odd, resources=(ResourceSnapshot(0, odd, 0, None),))
    samples = scrape(Readings(replace(SNAPSHOT, groups=(group,))))
    assert value(samples, "twinbeat_group_holder_is_self", group=odd) == 1
    assert value(samples, "twinbeat_resource_fail_count", group=odd, resource=odd) == 0
