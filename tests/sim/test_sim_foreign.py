"""Deterministic simulation of a mixed cluster: twinbeat beside heartbeat 3.0.6
(tests/sim/sim_foreign.py; issue #14, step 1).

`pytest tests/sim/test_sim_foreign.py` runs DEFAULT_RUNS seeds; `--sim-runs N` runs N;
`--sim-seed S` replays one.
"""

from __future__ import annotations

import pytest
from sim_foreign import MixedSimulation, PropertyViolationError

from twinbeat.core import foreign

DEFAULT_RUNS = 40


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hb_seed" in metafunc.fixturenames:
        one = metafunc.config.getoption("sim_seed")
        runs = metafunc.config.getoption("sim_runs") or DEFAULT_RUNS
        metafunc.parametrize("hb_seed", [one] if one is not None else list(range(runs)))


def test_seed(hb_seed: int) -> None:
    MixedSimulation(hb_seed).run()


def test_same_seed_gives_the_same_trace() -> None:
    for seed in (1, 2):
        first = MixedSimulation(seed).run()
        assert first == MixedSimulation(seed).run() and len(first) > 10


def test_the_properties_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check: with the hold-off disabled (a heartbeat peer never speaks), the
    simulation must catch calc starting groups while prime is heard."""
    monkeypatch.setattr(foreign.Foreign, "on_message", lambda self, *a, **k: None)
    caught = 0
    for seed in range(5):
        try:
            MixedSimulation(seed).run()
        except PropertyViolationError as exc:
            caught += "S1" in str(exc) or "S2" in str(exc)
    assert caught == 5
