"""Fixtures for the config tests: a config-dir writer (files, authkeys mode)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from config_helpers import HOWTO_AUTHKEYS, HOWTO_HACF, HOWTO_HARESOURCES

WriteDir = Callable[..., str]

@pytest.fixture
def write_dir(tmp_path: Path) -> WriteDir:
    """write_dir(hacf=..., authkeys=..., haresources=..., mode=0o600) -> config dir path.

    Each argument is text or bytes; None leaves the file out. Defaults: the how-to files.
    """

    def write(
        hacf: str | bytes | None = HOWTO_HACF,
        authkeys: str | bytes | None = HOWTO_AUTHKEYS,
        haresources: str | bytes | None = HOWTO_HARESOURCES,
        mode: int = 0o600,
    ) -> str:
        d = tmp_path / "ha.d"
        d.mkdir(exist_ok=True)
        for name, content in (("ha.cf", hacf), ("authkeys", authkeys),
                              ("haresources", haresources)):
            if content is None:
                continue
            data = content.encode() if isinstance(content, str) else content
            (d / name).write_bytes(data)
        if authkeys is not None:
            os.chmod(d / "authkeys", mode)
        return str(d)

    return write
