"""debian/ against pyproject.toml, without building anything: every runtime dependency of
twinbeat reaches the package, either bundled in /usr/lib/twinbeat at a version pyproject.toml
accepts, or as a Debian package in Depends. A dependency added to pyproject.toml alone would
build, pass the suite in .venv, and fail on the first node; this fails first.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# PyPI name -> Debian 12 package, where it is not python3-NAME.
DEBIAN_NAMES = {"pyserial": "python3-serial", "prometheus-client": "python3-prometheus-client"}


def _dependencies() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def _bundled() -> dict[str, str]:
    """debian/bundled.txt: canonical name -> pinned version."""
    pins = {}
    for line in (ROOT / "debian" / "bundled.txt").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def _depends() -> set[str]:
    """The binary package's Depends, package names only."""
    control = (ROOT / "debian" / "control").read_text()
    stanza = control[control.index("\nPackage: twinbeat\n") :]
    field = re.search(r"^Depends:(.*?)^\S", stanza, flags=re.MULTILINE | re.DOTALL)
    assert field is not None, stanza
    text = "\n".join(line for line in field[1].splitlines() if not line.lstrip().startswith("#"))
    entries = (entry.split()[0] for entry in text.split(",") if entry.strip())
    return {entry for entry in entries if not entry.startswith("$")}


def test_every_runtime_dependency_reaches_the_package() -> None:
    bundled, depends = _bundled(), _depends()
    assert bundled and "python3-serial" in depends  # the parsers found something
    for requirement in _dependencies():
        name = canonicalize_name(requirement.name)
        if name in bundled:
            assert requirement.specifier.contains(bundled[name]), (
                f"debian/bundled.txt pins {name} {bundled[name]}; pyproject.toml wants "
                f"{requirement}"
            )
        else:
            debian = DEBIAN_NAMES.get(name, f"python3-{name}")
            assert debian in depends, (
                f"pyproject.toml needs {requirement}: add {debian} (if Debian 12's version "
                "fits) to debian/control's Depends, or pin it in debian/bundled.txt"
            )


def test_a_bundled_package_is_not_also_a_debian_dependency() -> None:
    depends = _depends()
    for name in _bundled():
        assert DEBIAN_NAMES.get(name, f"python3-{name}") not in depends, name
