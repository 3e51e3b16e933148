"""The script agent's check: resource.d as heartbeat read status, init.d by LSB code, systemd
by `is-active`, a vanished script, a hung one. Real scripts in tmp dirs; systemd only through
a stand-in `systemctl` (there is no systemd to ask here)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import trio

from twinbeat.config.model import ScriptResource
from twinbeat.resources import AgentError, script
from twinbeat.resources.health import Check, Health


def write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """(config dir, init dir): the agent looks only there (and in an empty OCF root)."""
    init = tmp_path / "init.d"
    init.mkdir()
    monkeypatch.setattr(script, "INIT_D", str(init))
    monkeypatch.setattr(script, "OCF_ROOT", str(tmp_path / "ocf"))
    return tmp_path / "ha.d", init


def agent(config_dir: Path, name: str = "web", *args: str) -> script.ScriptAgent:
    text = "::".join((name, *args))
    return script.ScriptAgent(ScriptResource(name, args, text), str(config_dir), timeout=5.0)


@pytest.mark.parametrize(("said", "code", "health"), [
    ("running", 0, Health.OK),
    ("apache2 is Running", 3, Health.OK),          # heartbeat ignores the exit code
    ("OK", 1, Health.OK),
    ("apache2 is not running", 0, Health.NOT_RUNNING),
    ("stopped", 0, Health.NOT_RUNNING),
    ("", 0, Health.NOT_RUNNING),
])
async def test_resource_d_status_as_heartbeat_read_it(dirs, said, code, health) -> None:
    config_dir, _ = dirs
    write(config_dir / "resource.d" / "web", f'[ "$1" = status ] && echo "{said}"; exit {code}\n')
    check = await agent(config_dir).monitor(5.0)
    assert check.health is health
    if health is Health.NOT_RUNNING:
        assert check.detail == (f"status said {said!r}" if said else "status said nothing")


async def test_resource_d_gets_its_arguments_before_the_action(dirs, tmp_path) -> None:
    config_dir, _ = dirs
    log = tmp_path / "args"
    write(config_dir / "resource.d" / "web", f'echo "$@" > {log}; echo running\n')
    assert await agent(config_dir, "web", "a1", "a2").monitor(5.0) == Check(Health.OK)
    assert log.read_text() == "a1 a2 status\n"


@pytest.mark.parametrize(("code", "health", "detail"), [
    (0, Health.OK, ""),
    (3, Health.NOT_RUNNING, "status exited 3 (LSB: not running)"),
    (1, Health.FAILED, "status exited 1 (LSB: dead, pid file exists)"),
    (2, Health.FAILED, "status exited 2 (LSB: dead, lock file exists)"),
    (4, Health.FAILED, "status exited 4 (LSB: status unknown)"),
    (150, Health.FAILED, "status exited 150 (LSB: unknown)"),
])
async def test_init_d_by_lsb_status_code(dirs, code, health, detail) -> None:
    config_dir, init = dirs
    write(init / "web", f"echo whatever; exit {code}\n")
    assert await agent(config_dir).monitor(5.0) == Check(health, detail)


@pytest.mark.parametrize("answer", [
    ("active", 0, Health.OK),
    ("inactive", 3, Health.NOT_RUNNING),
    ("failed", 3, Health.FAILED),
    ("activating", 3, Health.NOT_RUNNING),
])
async def test_systemd_by_is_active(dirs, tmp_path, monkeypatch, answer) -> None:
    state, code, health = answer
    config_dir, _ = dirs
    bin_dir = tmp_path / "bin"
    calls = tmp_path / "calls"
    write(bin_dir / "systemctl", f'echo "$@" >> {calls}; echo {state}; exit {code}\n')
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(script, "locate", lambda _d, name: script.Program("systemd",
                                                                          f"{name}.service"))
    check = await agent(config_dir).monitor(5.0)
    assert check.health is health
    assert calls.read_text() == "is-active web.service\n"
    if health is not Health.OK:
        assert check.detail == f"web.service is {state}"


async def test_a_vanished_script_cannot_run_here(dirs) -> None:
    config_dir, _ = dirs
    check = await agent(config_dir, "gone").monitor(5.0)
    assert check.health is Health.CANNOT_RUN
    assert "cannot locate resource script gone" in check.detail


async def test_a_hung_status_is_killed_with_its_children_at_the_timeout(dirs, tmp_path) -> None:
    config_dir, _ = dirs
    pids = tmp_path / "pids"
    write(config_dir / "resource.d" / "web", f"sleep 60 & echo $! > {pids}; wait\n")
    began = time.monotonic()
    with pytest.raises(AgentError, match=r"^web: status timed out after 0\.5 s$"):
        await agent(config_dir).monitor(0.5)
    assert time.monotonic() - began < 4
    child = int(pids.read_text())
    with trio.move_on_after(3):
        while os.path.exists(f"/proc/{child}") and "zombie" not in \
                Path(f"/proc/{child}/status").read_text():
            await trio.sleep(0.05)
    assert not os.path.exists(f"/proc/{child}") or "zombie" in \
        Path(f"/proc/{child}/status").read_text()


async def test_monitor_output_is_logged_at_debug_only(dirs, caplog) -> None:
    config_dir, _ = dirs
    write(config_dir / "resource.d" / "web", "echo running\n")
    caplog.set_level("INFO", logger="twinbeat.resources")
    await agent(config_dir).monitor(5.0)
    assert not [r for r in caplog.records if "running" in r.getMessage()]
