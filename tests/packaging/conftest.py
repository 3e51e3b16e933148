"""The Debian package under test: built once per session by `scripts/build-deb` (`make deb`),
or the one named by TWINBEAT_DEB (`make test-deb` passes the one it just built)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pyproject_version() -> str:
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("version = "):
            return line.split('"')[1]
    raise AssertionError("no version in pyproject.toml")


@pytest.fixture(scope="session")
def version() -> str:
    return pyproject_version()


@pytest.fixture(scope="session")
def deb() -> Path:
    given = os.environ.get("TWINBEAT_DEB")
    if given:
        return Path(given).resolve()
    if shutil.which("dpkg-buildpackage") is None:
        pytest.skip("dpkg-buildpackage not found (`make setup` installs the build dependencies)")
    check = subprocess.run(
        ["dpkg-checkbuilddeps"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if check.returncode != 0 and os.geteuid() != 0:
        pytest.skip(f"build dependencies missing, and not root: {check.stderr.strip()}")
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-deb")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert build.returncode == 0, f"scripts/build-deb failed:\n{build.stdout}\n{build.stderr}"
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    path = ROOT / "dist" / f"twinbeat_{pyproject_version()}_{arch}.deb"
    assert path.is_file(), f"{path} not built:\n{build.stdout}"
    return path
