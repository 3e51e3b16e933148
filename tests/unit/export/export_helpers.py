"""Shared helpers of the export's unit tests (imported by name; not a test module)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from twinbeat.config import Config, load

MakeConfig = Callable[..., Config]

BASE_HACF = """\
logfacility local0
keepalive 2
deadtime 10
initdead 30
bcast eth1
serial /dev/ttyS0
node prime
node calc
auto_failback on
"""
AUTHKEYS = "auth 1\n1 sha256 0123456789abcdef0123456789abcdef\n"


def config_maker(tmp_path: Path) -> MakeConfig:
    """make_config(haresources, extra_hacf="", hacf=BASE_HACF, node="prime") -> Config;
    `scripts` names resource.d scripts to create (executable)."""

    def make(haresources: str = "prime IPaddr::198.18.1.100/24/eth0 apache2\n",
             extra_hacf: str = "", hacf: str = BASE_HACF, node: str = "prime",
             scripts: tuple[str, ...] = ()) -> Config:
        d = tmp_path / "ha.d"
        (d / "resource.d").mkdir(parents=True, exist_ok=True)
        (d / "ha.cf").write_text(hacf + extra_hacf)
        (d / "authkeys").write_text(AUTHKEYS)
        os.chmod(d / "authkeys", 0o600)
        (d / "haresources").write_text(haresources)
        for name in scripts:
            (d / "resource.d" / name).write_text("#!/bin/sh\nexit 0\n")
            os.chmod(d / "resource.d" / name, 0o755)
        return load(str(d), node=node)

    return make
