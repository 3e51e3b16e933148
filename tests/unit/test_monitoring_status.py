"""Monitoring in the daemon's plumbing without I/O: what the core is told (`params_from_config`),
what the status document says per resource and when the cluster is degraded (statusview)."""

from __future__ import annotations

from dataclasses import replace

from twinbeat.config import load
from twinbeat.control.statusview import status_view
from twinbeat.core.params import GroupSpec
from twinbeat.core.snapshot import GroupSnapshot, ResourceSnapshot, Snapshot
from twinbeat.engine import params_from_config

HACF = """node prime calc
bcast eth1
migration_threshold 2
failure_timeout 90
"""


def test_params_carry_resources_and_the_failure_policy(tmp_path) -> None:
    (tmp_path / "ha.cf").write_text(HACF)
    (tmp_path / "authkeys").write_text("auth 1\n1 sha256 0123456789abcdef0123456789\n")
    (tmp_path / "authkeys").chmod(0o600)
    (tmp_path / "haresources").write_text(
        "prime IPaddr::198.18.1.100/24/eth0 ocf:heartbeat:Dummy::state=/x apache2\n")
    params = params_from_config(load(str(tmp_path), "prime"), generation=1)
    assert params.groups == (GroupSpec(
        "IPaddr::198.18.1.100/24/eth0", "prime",
        ("IPaddr::198.18.1.100/24/eth0", "ocf:heartbeat:Dummy::state=/x", "apache2")),)
    assert (params.migration_threshold, params.failure_timeout) == (2, 90.0)


GROUP = GroupSnapshot(key="IPaddr::198.18.1.100", primary="prime", holder="prime",
                      local_state="held", standby=False, takeover=False, last_change=90.0,
                      fail_count=0, last_failure=None, failed_here=False, resources=())
SNAPSHOT = Snapshot(node="prime", state="active", generation=1, now=100.0, ping_ok=None,
                    peers=(), links=(), groups=(GROUP,))
CHECKS = {"IPaddr::198.18.1.100": [
    {"text": "IPaddr::198.18.1.100", "monitored": True, "interval": 5.0, "timeout": 20.0,
     "check": "ok", "check_detail": None, "check_age": 1.0, "checks": 3, "check_failures": 0},
    {"text": "apache2", "monitored": True, "interval": 5.0, "timeout": 20.0,
     "check": "not-running", "check_detail": "status said 'stopped'", "check_age": 2.0,
     "checks": 3, "check_failures": 1},
]}


def test_each_resource_joins_the_cores_counts_and_the_drivers_last_check() -> None:
    counted = replace(GROUP, fail_count=1, last_failure="apache2: status said 'stopped'",
                      resources=(ResourceSnapshot(0, "IPaddr::198.18.1.100", 0, None),
                                 ResourceSnapshot(1, "apache2", 1,
                                                  "apache2: status said 'stopped'")))
    view = status_view(replace(SNAPSHOT, groups=(counted,)), CHECKS)
    group = view["groups"][0]
    assert (group["fail_count"], group["last_failure"], group["failed_here"]) == (
        1, "apache2: status said 'stopped'", False)
    assert group["resources"] == [
        {"index": 0, "text": "IPaddr::198.18.1.100", "fail_count": 0, "last_failure": None,
         **{k: v for k, v in CHECKS["IPaddr::198.18.1.100"][0].items() if k != "text"}},
        {"index": 1, "text": "apache2", "fail_count": 1,
         "last_failure": "apache2: status said 'stopped'",
         **{k: v for k, v in CHECKS["IPaddr::198.18.1.100"][1].items() if k != "text"}},
    ]
    assert view["healthy"] is False  # a failure the core still counts: degraded


def test_healthy_without_failures_even_while_a_check_fails() -> None:
    """The core's counts decide; a failing check the core has not counted yet does not."""
    view = status_view(SNAPSHOT, CHECKS)
    assert view["healthy"] is True
    assert [r["fail_count"] for r in view["groups"][0]["resources"]] == [0, 0]
    assert view["groups"][0]["resources"][1]["text"] == "apache2"


def test_a_group_that_failed_here_is_degraded() -> None:
    view = status_view(replace(SNAPSHOT, groups=(replace(GROUP, holder="calc",
                                                         local_state="none",
                                                         failed_here=True),)))
    assert view["healthy"] is False
    assert view["groups"][0]["failed_here"] is True
    assert view["groups"][0]["resources"] == []


def test_each_group_says_how_often_it_was_acquired_taken_over_and_failed_over_here() -> None:
    moved = replace(GROUP, acquired=3, takeovers=2, failovers=1)
    group = status_view(replace(SNAPSHOT, groups=(moved,)))["groups"][0]
    assert (group["acquired"], group["takeovers"], group["failovers"]) == (3, 2, 1)
