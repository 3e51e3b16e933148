"""find_agent: resource.d, then init.d, then the systemd unit; executables only."""

from __future__ import annotations

import os
from pathlib import Path

from twinbeat.config.agents import find_agent


def _script(path: Path, mode: int = 0o755) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(path, mode)
    return str(path)


def test_lookup_order(tmp_path: Path) -> None:
    config_dir, init_dir, units = tmp_path / "ha.d", tmp_path / "init.d", tmp_path / "units"
    units.mkdir()

    def find(name: str) -> tuple[str, str] | None:
        return find_agent(str(config_dir), name, init_dir=str(init_dir),
                          unit_dirs=(str(units),))

    assert find("web") is None
    (units / "web.service").write_text("[Service]\n")
    assert find("web") == ("systemd", "web.service")
    init_script = _script(init_dir / "web")
    assert find("web") == ("init.d", init_script)
    local = _script(config_dir / "resource.d" / "web")
    assert find("web") == ("resource.d", local)


def test_non_executable_script_is_skipped(tmp_path: Path) -> None:
    _script(tmp_path / "ha.d" / "resource.d" / "web", mode=0o644)
    init_script = _script(tmp_path / "init.d" / "web")
    assert find_agent(str(tmp_path / "ha.d"), "web", init_dir=str(tmp_path / "init.d"),
                      unit_dirs=()) == ("init.d", init_script)


def test_names_with_a_slash_are_never_looked_up(tmp_path: Path) -> None:
    _script(tmp_path / "ha.d" / "resource.d" / "x")
    assert find_agent(str(tmp_path / "ha.d"), "../resource.d/x", unit_dirs=()) is None
    assert find_agent(str(tmp_path / "ha.d"), "", unit_dirs=()) is None
