"""`twinbeat cleanup` (systemd's ExecStopPost): with no daemon, stop whatever still runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from twinbeat.cli import main
from twinbeat.control.server import ControlServer, open_control_listener

HA_CF = "keepalive 1\ndeadtime 10\nbcast eth1\nnode prime\nnode calc\nauto_failback on\n"

SCRIPT = """#!/bin/sh
state={state}
echo "$(basename "$0") $1" >> {log}
case "$1" in
  start) touch "$state" ;;
  stop) {stop} ;;
  status) [ -e "$state" ] && echo running || echo stopped ;;
esac
"""


def config_dir(tmp: Path, *, stop: str = 'rm -f "$state"') -> Path:
    directory = tmp / "ha.d"
    (directory / "resource.d").mkdir(parents=True)
    (directory / "ha.cf").write_text(HA_CF)
    authkeys = directory / "authkeys"
    authkeys.write_text("auth 1\n1 sha256 " + "cd" * 32 + "\n")
    os.chmod(authkeys, 0o600)
    (directory / "haresources").write_text("prime svc1 svc2\ncalc svc3\n")
    for name in ("svc1", "svc2", "svc3"):
        script = directory / "resource.d" / name
        script.write_text(SCRIPT.format(state=tmp / f"{name}.up", log=tmp / "calls", stop=stop))
        script.chmod(0o755)
    return directory


def cleanup(directory: Path, run_dir: Path) -> int:
    return main(["cleanup", "--config-dir", str(directory), "--node", "prime",
                 "--run-dir", str(run_dir)])


def test_stops_what_runs_in_reverse_and_leaves_the_rest(tmp_path, capsys):
    directory = config_dir(tmp_path)
    (tmp_path / "svc1.up").touch()
    (tmp_path / "svc2.up").touch()  # prime's group left running by a crashed daemon
    assert cleanup(directory, tmp_path / "run") == 0
    assert not (tmp_path / "svc1.up").exists() and not (tmp_path / "svc2.up").exists()
    calls = (tmp_path / "calls").read_text().splitlines()
    assert [c for c in calls if not c.endswith("status")] == ["svc2 stop", "svc1 stop"]
    out = capsys.readouterr().out
    assert "stopping svc1" in out and "svc3" not in out


def test_nothing_running_is_a_quiet_success(tmp_path, capsys):
    assert cleanup(config_dir(tmp_path), tmp_path / "run") == 0
    assert "done; nothing of haresources runs" in capsys.readouterr().out


def test_a_resource_that_will_not_stop_is_exit_1(tmp_path, capsys):
    directory = config_dir(tmp_path, stop="exit 1")
    (tmp_path / "svc3.up").touch()
    assert cleanup(directory, tmp_path / "run") == 1
    assert "could not stop svc3" in capsys.readouterr().err


async def test_refuses_while_a_daemon_answers(tmp_path, nursery):
    directory = config_dir(tmp_path)
    (tmp_path / "svc1.up").touch()
    run_dir = tmp_path / "run"
    listener = await open_control_listener(str(run_dir))
    nursery.start_soon(ControlServer(lambda: {}, None).serve, listener)
    with trio.fail_after(30):
        code = await trio.to_thread.run_sync(cleanup, directory, run_dir)
    assert code == 1
    assert (tmp_path / "svc1.up").exists()  # the running daemon's resource is left alone


@pytest.mark.parametrize("bad", ["keepalive 10s\n"])
def test_bad_config_is_exit_1_with_the_line(tmp_path, capsys, bad):
    directory = config_dir(tmp_path)
    (directory / "ha.cf").write_text(HA_CF + bad)
    assert cleanup(directory, tmp_path / "run") == 1
    assert "ha.cf:7:" in capsys.readouterr().err
