"""Monitoring in the simulator (sim_monitor.py, issue #12): the simulator exercises every
path of the core's restart-or-give-up rules, and notices a core that breaks them.

The properties themselves run in every seed of test_sim_properties.py; here: that the
seeds do reach each case, and mutation checks of the threshold and the no-ping-pong rule.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sim_cluster import PropertyViolationError, Simulation
from test_sim_properties import DEFAULT_RUNS, first_violation

from twinbeat.core import SendHeartbeat, StatusChanged
from twinbeat.core import monitoring as monitoring_module
from twinbeat.core.status import StatusLine

COVERAGE_SEEDS = range(30)


def test_the_seeds_reach_every_case() -> None:
    """Restarts (and each of their outcomes), give-ups at the threshold and for "cannot
    run", stale reports, admin clears, expiries, and groups left failed on both nodes."""
    seen: Counter[str] = Counter()
    for seed in COVERAGE_SEEDS:
        sim = Simulation(seed)
        sim.run()
        seen.update(sim.monitor.stats)
        seen["expired"] += sum("expired: it may run here again" in line for line in sim.trace)
    cases = ("restart", "restarted", "restart_failed", "restart_stuck", "restart_hung",
             "give_up", "cannot_run", "stale", "clear", "expired", "failed_on_both")
    assert {case: seen[case] > 0 for case in cases} == dict.fromkeys(cases, True), seen


def test_the_simulator_catches_a_core_that_ignores_the_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mutation check: a core that restarts for ever never gives a failing group up."""
    monkeypatch.setattr(monitoring_module, "threshold_reached", lambda count, threshold: False)
    found = first_violation(range(DEFAULT_RUNS), "called for StopGroup")
    assert found is not None, "the simulator did not notice a core that ignores the threshold"


def test_the_simulator_catches_a_core_that_takes_a_group_back_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mutation check (no ping-pong): a node that may run a group again as soon as it has
    given it up takes it back (auto_failback, or nobody else wants it) and starts it."""
    monkeypatch.setattr(monitoring_module, "may_run_again", lambda count: True)
    found = first_violation(range(DEFAULT_RUNS), "before its fail count expired")
    assert found is not None, "the simulator did not notice a core that ping-pongs"


def test_a_failure_report_is_replayable() -> None:
    """A monitoring violation names its seed like any other (the replay command)."""
    sim = Simulation(3)
    with pytest.raises(PropertyViolationError, match="--sim-seed 3"):
        sim.monitor._violation("test")


def test_the_simulator_catches_a_status_line_left_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check of the status line's shortcut (core/status.py, issue #17): a core that
    builds the line only when an action or the settling key moved misses the failures that
    `failure_timeout` forgets, and some seed reports the line it left behind."""

    def without_failures(self: StatusLine, moved: bool, out: list[Any], build: Any, *,
                         foreign: Any, groups: Any) -> None:
        if moved or any(type(action) is not SendHeartbeat for action in out):
            text = build()
            if text != self.text:
                self.text = text
                out.append(StatusChanged(text))

    monkeypatch.setattr(StatusLine, "update", without_failures)
    found = first_violation(range(DEFAULT_RUNS), "status line is stale")
    assert found is not None, "the simulator did not notice a stale status line"
