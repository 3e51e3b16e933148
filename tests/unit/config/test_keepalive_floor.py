"""The keepalive floor (issue #11 item 7): `check` and `run` refuse a keepalive below it.

A sub-millisecond keepalive used to be accepted (`keepalive 1us`): a heartbeat storm that
also brings the sequence-number wrap within weeks. The floor is the `fast` lab preset's
10 ms (docs/config.md); nothing in the repository goes below it.
"""

from __future__ import annotations

import argparse

import pytest
from config_helpers import HOWTO_HACF, lines_of, texts

from twinbeat.cli import main as cli_main
from twinbeat.config.hacf import parse_hacf
from twinbeat.daemon import start
from twinbeat.lab.plan import PRESETS

BASE = "node prime calc\nbcast eth0\n"
FLOOR_PROBLEM = "below the 10ms floor (heartbeats that often serve no purpose)"


def errors(text: str) -> list[str]:
    lines, report = lines_of(text, "/etc/ha.d/ha.cf")
    parse_hacf(lines, "/etc/ha.d/ha.cf", report)
    return texts(report.errors)


@pytest.mark.parametrize("token", ["1us", "500us", "9ms", "0.005", "9999usec"])
def test_a_keepalive_below_the_floor_is_an_error_at_its_line(token: str) -> None:
    assert errors(BASE + f"keepalive {token}\ndeadtime 10\n") == [
        f"/etc/ha.d/ha.cf:3: keepalive {token}: {FLOOR_PROBLEM}"
    ]


@pytest.mark.parametrize("token", ["10ms", "10000us", "0.01", "1"])
def test_a_keepalive_at_or_above_the_floor_is_accepted(token: str) -> None:
    assert errors(BASE + f"keepalive {token}\ndeadtime 10\n") == []


def test_every_lab_preset_is_at_or_above_the_floor() -> None:
    assert min(t.keepalive_s for t in PRESETS.values()) >= 0.010


def test_check_refuses_it(write_dir, capsys) -> None:
    d = write_dir(hacf=HOWTO_HACF + "keepalive 1us\n")
    assert cli_main(["check", "--config-dir", d, "--node", "prime"]) == 1
    line = len(HOWTO_HACF.splitlines()) + 1
    assert f"{d}/ha.cf:{line}: keepalive 1us: {FLOOR_PROBLEM}\n" in capsys.readouterr().err


def test_run_refuses_it_before_starting(write_dir, tmp_path, capsys, monkeypatch) -> None:
    def must_not_start(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the daemon started with a keepalive below the floor")

    monkeypatch.setattr(start.trio, "run", must_not_start)
    monkeypatch.setattr(start, "start_generation", must_not_start)
    d = write_dir(hacf=HOWTO_HACF + "keepalive 1us\n")
    args = argparse.Namespace(config_dir=d, node="prime", run_dir=str(tmp_path / "run"),
                              state_dir=str(tmp_path / "state"), foreground=False)
    assert start.main(args) == 1
    err = capsys.readouterr().err
    assert f"{d}/ha.cf:{len(HOWTO_HACF.splitlines()) + 1}: keepalive 1us: " in err
    assert "not started: configuration error" in err
