"""The build and import errors name what to install, instead of a compiler traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from twinbeat.wire._advice import BUILD_ADVICE

ROOT = Path(__file__).resolve().parents[3]
BUILD = ROOT / "src" / "twinbeat" / "wire" / "_build.py"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env},
        capture_output=True, text=True, check=False, timeout=60,
    )


def test_missing_compiler_gives_install_advice() -> None:
    code = f"exec(open({str(BUILD)!r}).read(), {{'__file__': {str(BUILD)!r}, '__name__': 'b'}})"
    result = run_python(code, CC="/nonexistent/cc")
    assert result.returncode != 0
    assert BUILD_ADVICE in result.stderr


def test_builder_runs_with_a_working_toolchain() -> None:
    code = (f"exec(open({str(BUILD)!r}).read(), g := {{'__file__': {str(BUILD)!r},"
            " '__name__': 'b'}); print('tb_decode' in g['cdef_from_header']"
            "(g['HEADER'].read_text()))")
    result = run_python(code)
    assert result.stdout.strip() == "True", result.stderr


def test_missing_extension_gives_install_advice_at_import() -> None:
    code = (
        "import sys; sys.modules['twinbeat.wire._twinbeat_wire'] = None\n"
        "try:\n    import twinbeat.wire\nexcept ImportError as e:\n    print(e)\n"
    )
    assert BUILD_ADVICE in run_python(code).stdout
