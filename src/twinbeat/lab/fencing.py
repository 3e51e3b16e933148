"""The lab's fencing: the power switch's files, the fence devices' ha.cf lines, the installs.

`FenceSetup` says how the lab's nodes fence each other (docs/lab.md, "The power switch"):
- `agent`: `fence RUN/bin/fence_tblab socket=RUN/switch.sock password_file=RUN/switch.secret`
  (twinbeat's own directive; the password in a root-owned 0600 file);
- `stonith`: `stonith_host * external/tblab RUN/switch.sock PASSWORD` (heartbeat's line, the
  password in ha.cf as heartbeat users wrote it, so the lab's ha.cf is then mode 0600).
Both drive the same switch (switch.py) through the same client (fence_tblab.py), installed
as a fence agent in `RUN/bin/` and, for `stonith`, as cluster-glue's `external/tblab`
plugin: cluster-glue looks for external plugins in its own directory only.

Also each node's power state (`RUN/power/<node>`: on unless it says off), which
`Lab.power_loss`/`power_on` keep and the switch reports.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from twinbeat.lab.errors import LabError
from twinbeat.lab.files import write_file
from twinbeat.lab.harness import Harness

POWER_ON, POWER_OFF = "on", "off"
SWITCH_LABEL = "switch"
STONITH_PLUGIN_DIR = Path("/usr/lib/stonith/plugins/external")
STONITH_TYPE = "external/tblab"
KINDS = ("agent", "stonith")


@dataclass(frozen=True, slots=True)
class SwitchPaths:
    socket: Path
    secret: Path
    log: Path
    agent: Path
    power: Path  # one file per node


def switch_paths(run_dir: Path) -> SwitchPaths:
    return SwitchPaths(socket=run_dir / "switch.sock", secret=run_dir / "switch.secret",
                       log=run_dir / "switch.log", agent=run_dir / "bin" / "fence_tblab",
                       power=run_dir / "power")


def power_state(run_dir: Path, node: str) -> str:
    try:
        text = (switch_paths(run_dir).power / node).read_text().strip()
    except FileNotFoundError:
        return POWER_ON
    return POWER_OFF if text == POWER_OFF else POWER_ON


def set_power(run_dir: Path, node: str, state: str) -> None:
    write_file(switch_paths(run_dir).power / node, f"{state}\n")


@dataclass(frozen=True, slots=True)
class FenceSetup:
    """How the lab fences: `kind` (agent|stonith), and ha.cf's fence_* settings as written."""

    kind: str = "agent"
    action: str = "off"  # off: a fenced lab node stays off until the test or demo says
    delay: str | None = None
    timeout: str = "20"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LabError(f"fencing {self.kind!r}: use {' or '.join(KINDS)}")

    def hacf_lines(self, run_dir: Path, password: str) -> str:
        paths = switch_paths(run_dir)
        lines = ["# Fencing: the lab's power switch (docs/lab.md, docs/fencing.md).",
                 f"fence_action {self.action}", f"fence_timeout {self.timeout}"]
        if self.delay is not None:
            lines.append(f"fence_delay {self.delay}")
        if self.kind == "agent":
            lines.append(f"fence {paths.agent} socket={paths.socket} "
                         f"password_file={paths.secret}")
        else:
            lines.append(f"stonith_host * {STONITH_TYPE} {paths.socket} {password}")
        return "\n".join(lines) + "\n"


def prepare(run_dir: Path, harness: Harness, setup: FenceSetup) -> str:
    """The switch's password (new), the client installed, the switch started; the password."""
    paths = switch_paths(run_dir)
    password = secrets.token_hex(16)
    write_file(paths.secret, f"{password}\n", 0o600)
    client = resources.files("twinbeat.lab").joinpath("fence_tblab.py").read_text()
    write_file(paths.agent, client, 0o755)
    os.chmod(paths.agent.parent, 0o755)
    if setup.kind == "stonith":
        install_stonith_plugin(client)
    return password


def install_stonith_plugin(client: str) -> None:
    """`external/tblab` in cluster-glue's plugin directory (the only place it looks),
    replaced atomically when it differs, so labs running side by side never see half."""
    if not STONITH_PLUGIN_DIR.is_dir():
        raise LabError(f"{STONITH_PLUGIN_DIR} missing; apt-get install cluster-glue")
    target = STONITH_PLUGIN_DIR / "tblab"
    if target.exists() and target.read_text() == client:
        return
    temporary = STONITH_PLUGIN_DIR / f".tblab.{os.getpid()}"
    write_file(temporary, client, 0o755)
    os.replace(temporary, target)


def start_switch(run_dir: Path, name: str, harness: Harness, timeout: float = 10.0) -> None:
    """The switch, a process of the lab; returns once its socket answers."""
    paths = switch_paths(run_dir)
    argv = [sys.executable, "-m", "twinbeat.lab.switch", "--run-dir", str(run_dir),
            "--name", name]
    process = harness.spawn(SWITCH_LABEL, argv, log=run_dir / "switch.err")
    deadline = time.monotonic() + timeout
    while not paths.socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise LabError(f"the lab switch did not start (see {run_dir / 'switch.err'})")
        time.sleep(0.01)


def stop_switch(run_dir: Path, harness: Harness) -> None:
    harness.stop(SWITCH_LABEL)
    switch_paths(run_dir).socket.unlink(missing_ok=True)


def have_stonith() -> bool:
    return shutil.which("stonith", path=f"{os.environ.get('PATH', '')}:/usr/sbin") is not None


def switch_records(run_dir: Path, since: float = 0.0) -> list[dict[str, Any]]:
    """The switch's log entries (switch.py) that began at or after `since` (monotonic)."""
    try:
        text = switch_paths(run_dir).log.read_text()
    except FileNotFoundError:
        return []
    records = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("t", 0.0) >= since:
            records.append(entry)
    return records
