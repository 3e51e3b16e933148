"""The sans-IO boundary (DESIGN.md §2): core/ imports nothing that does I/O or reads config."""

from __future__ import annotations

import ast
from pathlib import Path

import twinbeat.core

FORBIDDEN = {"trio", "socket", "os", "time", "subprocess", "logging", "asyncio", "threading",
             "select", "selectors", "twinbeat.config", "twinbeat.wire", "twinbeat.links",
             "twinbeat.resources"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_core_modules_import_no_io_and_no_config():
    core_dir = Path(twinbeat.core.__file__).parent
    offenders = {}
    for path in sorted(core_dir.glob("*.py")):
        bad = {
            name for name in imported_modules(path)
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
        }
        if bad:
            offenders[path.name] = sorted(bad)
    assert offenders == {}


def test_the_boundary_check_sees_a_forbidden_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os.path\nfrom twinbeat.config import load\nfrom . import x\n")
    assert imported_modules(sample) == {"os.path", "twinbeat.config"}
