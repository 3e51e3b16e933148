"""Reloads in the simulator (sim_reload.py, issue #16): the files change mid-run and each
daemon reloads them at its own moment, through every other fault.

`pytest tests/sim/test_sim_reload.py` runs RELOAD_RUNS seeds with reloads (`--sim-runs N`
runs N; `--sim-seed S` replays one). Here too: that the seeds reach each case, and mutation
checks that the properties can fire.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sim_cluster import PropertyViolationError, Simulation

from twinbeat.core import CoreMisuse, Log
from twinbeat.core import node as node_module
from twinbeat.core import regroup as regroup_module

RELOAD_RUNS = 100
COVERAGE_SEEDS = range(40)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "reload_seed" in metafunc.fixturenames:
        one = metafunc.config.getoption("sim_seed")
        runs = metafunc.config.getoption("sim_runs") or RELOAD_RUNS
        metafunc.parametrize("reload_seed", [one] if one is not None else list(range(runs)))


def test_reload_seed(reload_seed: int) -> None:
    Simulation(reload_seed, reloads=True).run()


def first_violation(seeds: range, about: str) -> str | None:
    for seed in seeds:
        try:
            Simulation(seed, reloads=True).run()
        except PropertyViolationError as e:
            if about in str(e):
                return str(e)
        except CoreMisuse:
            continue  # the mutant broke the core's own invariants first: look further
    return None


def test_the_seeds_reach_every_case() -> None:
    """Unchanged reloads, groups removed (some of them running), put back and redefined,
    removed groups stopped, reloads refused while shutting down."""
    seen: Counter[str] = Counter()
    for seed in COVERAGE_SEEDS:
        sim = Simulation(seed, reloads=True)
        sim.run()
        seen.update(sim.reload.stats)
    cases = ("same", "remove", "add", "redefine", "reload", "removed_busy", "removed_stopped",
             "refused")
    assert {case: seen[case] > 0 for case in cases} == dict.fromkeys(cases, True), seen


def test_runs_without_reloads_are_as_before() -> None:
    sim = Simulation(5)
    sim.run()
    assert not sim.reload.stats


def test_the_simulator_catches_a_removed_group_left_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mutation check: a core that forgets a removed group without stopping it."""

    def forget(groups, g, now, out) -> None:
        g.index = -1

    monkeypatch.setattr(regroup_module, "_retire", forget)
    found = first_violation(range(RELOAD_RUNS), "removed from the files")
    assert found is not None, "the simulator did not notice a removed group left running"


def test_the_simulator_catches_an_unchanged_reload_that_acts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mutation check: a core that does something when told the same params again."""
    original = node_module.Node._reconfigure

    def noisy(self, params, now, out) -> None:
        out.append(Log("info", "reloaded"))
        original(self, params, now, out)

    monkeypatch.setattr(node_module.Node, "_reconfigure", noisy)
    found = first_violation(range(RELOAD_RUNS), "reloading unchanged files")
    assert found is not None, "the simulator did not notice an unchanged reload that acts"


def test_a_reload_violation_is_replayable() -> None:
    sim = Simulation(3, reloads=True)
    with pytest.raises(PropertyViolationError, match="--sim-seed 3"):
        sim._violation("test")
