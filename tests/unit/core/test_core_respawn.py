"""core/respawn.py: heartbeat's rule for restarting a `respawn` program (no I/O)."""

from __future__ import annotations

from twinbeat.core.respawn import MAX_SHORT_RUNS, PAUSE, SHORT_RUN, Outcome, RespawnPolicy


def test_a_long_run_is_restarted_at_once() -> None:
    policy = RespawnPolicy("nobody /bin/agent")
    decision = policy.exited(SHORT_RUN + 1, 1, None)
    assert (decision.outcome, decision.delay) == (Outcome.RESTART, 0.0)
    assert decision.message == ("respawn: nobody /bin/agent: exited with code 1 after 31.0s: "
                                "respawning it")
    assert policy.respawns == 1


def test_a_short_run_is_restarted_after_a_pause() -> None:
    policy = RespawnPolicy("nobody /bin/agent")
    decision = policy.exited(2.0, None, 9)
    assert (decision.outcome, decision.delay) == (Outcome.RESTART, PAUSE)
    assert "killed by signal 9" in decision.message


def test_exit_100_is_not_restarted() -> None:
    decision = RespawnPolicy("x").exited(1.0, 100, None)
    assert decision.outcome is Outcome.DONE
    assert RespawnPolicy("x").exited(1.0, None, 100).outcome is Outcome.RESTART  # signal 100?


def test_the_eleventh_short_run_in_a_row_gives_up() -> None:
    policy = RespawnPolicy("x")
    outcomes = [policy.exited(0.1, 1, None).outcome for _ in range(MAX_SHORT_RUNS + 1)]
    assert outcomes == [Outcome.RESTART] * MAX_SHORT_RUNS + [Outcome.GIVEN_UP]
    assert policy.given_up


def test_a_long_run_resets_the_count() -> None:
    policy = RespawnPolicy("x")
    for _ in range(MAX_SHORT_RUNS):
        policy.exited(0.1, 1, None)
    assert policy.exited(SHORT_RUN, 1, None).outcome is Outcome.RESTART
    outcomes = {policy.exited(0.1, 1, None).outcome for _ in range(MAX_SHORT_RUNS)}
    assert outcomes == {Outcome.RESTART}


def test_a_reload_starts_a_given_up_program_again() -> None:
    policy = RespawnPolicy("x")
    assert policy.reloaded() is False
    for _ in range(MAX_SHORT_RUNS + 1):
        policy.exited(0.1, 1, None)
    assert policy.reloaded() is True
    assert policy.exited(0.1, 1, None).outcome is Outcome.RESTART


def test_a_program_stopped_by_the_daemon_is_not_restarted() -> None:
    decision = RespawnPolicy("x").exited(5.0, None, 15, stopping=True)
    assert decision.outcome is Outcome.STOPPED
