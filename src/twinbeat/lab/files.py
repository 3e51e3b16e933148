"""Where one node's files live (`NodeFiles`), and writing its configuration.

Layout under a node's home directory (the lab's `RUN/<node>/`, or a test's tmp dir):
`ha.d/` (ha.cf, authkeys, haresources, resource.d/), `state/` (the generation counter),
`run/` (the control socket), `daemon.log` (the daemon's stdout and stderr) and `ha-log`
(when ha.cf's `logfile` points there).

Paths and file writing only; imports nothing else of the lab.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


@dataclass(frozen=True, slots=True)
class NodeFiles:
    name: str
    home: Path

    @property
    def config_dir(self) -> Path:
        return self.home / "ha.d"

    @property
    def resource_dir(self) -> Path:
        return self.config_dir / "resource.d"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def heartbeat_state_dir(self) -> Path:
        """The node's /var/lib/heartbeat when it runs heartbeat 3.0.6 (lab/hbnode.py); its
        generation counter is where twinbeat's starts on that node (docs/migrating.md)."""
        return self.home / "heartbeat" / "var-lib"

    @property
    def daemon_log(self) -> Path:
        return self.home / "daemon.log"

    @property
    def ha_log(self) -> Path:
        return self.home / "ha-log"

    def write_config(
        self,
        *,
        ha_cf: str,
        authkeys: str,
        haresources: str,
        scripts: Mapping[str, str] | None = None,
        authkeys_mode: int = 0o600,
    ) -> None:
        """ha.d/ with the three files and resource.d scripts (mode 0755); state/ and run/."""
        write_file(self.config_dir / "ha.cf", ha_cf)
        write_file(self.config_dir / "authkeys", authkeys, authkeys_mode)
        write_file(self.config_dir / "haresources", haresources)
        for name, text in (scripts or {}).items():
            write_file(self.resource_dir / name, text, 0o755)
        for directory in (self.state_dir, self.run_dir):
            directory.mkdir(parents=True, exist_ok=True)
            os.chmod(directory, 0o700)

    def run_argv(self) -> list[str]:
        """`twinbeat run` for this node, in the foreground, with this interpreter."""
        return [
            sys.executable, "-m", "twinbeat", "run",
            "--config-dir", str(self.config_dir),
            "--node", self.name,
            "--state-dir", str(self.state_dir),
            "--run-dir", str(self.run_dir),
            "--heartbeat-state-dir", str(self.heartbeat_state_dir),
            "--foreground",
        ]  # fmt: skip
