"""Where a haresources script resource `NAME` is found on this machine.

heartbeat's ResourceManager looks in `<config-dir>/resource.d/NAME`, then
`/etc/init.d/NAME` (reference §6.2); twinbeat adds the systemd unit `NAME.service` as a
last resort. `twinbeat check` uses this to say where each resource will come from, and
the daemon's script agent reuses it so both always agree.

Between resource.d and init.d comes heartbeat's own resource.d when heartbeat is not
installed: a classic name (`Filesystem`, `apache`, ...: classic.py) whose OCF agent
`<OCF_ROOT>/resource.d/heartbeat/NAME` exists is found as ("ocf", that path), so the same
name means what it meant on a heartbeat node, where resource.d held the wrapper.
"""

from __future__ import annotations

import os

from twinbeat.config.classic import is_classic
from twinbeat.config.ocf import OCF_ROOT, agent_path

INIT_DIR = "/etc/init.d"
# Where systemd looks for units, most specific first (systemd.unit(5)).
SYSTEMD_UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
)


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_agent(
    config_dir: str,
    name: str,
    *,
    init_dir: str = INIT_DIR,
    unit_dirs: tuple[str, ...] = SYSTEMD_UNIT_DIRS,
    ocf_root: str = OCF_ROOT,
) -> tuple[str, str] | None:
    """("resource.d", path), ("ocf", agent path), ("init.d", path), ("systemd",
    "NAME.service") or None.

    A script must be an executable file (heartbeat: the first executable file wins).
    """
    if not name or "/" in name or name in (".", ".."):
        return None
    script = os.path.join(config_dir, "resource.d", name)
    if _executable(script):
        return ("resource.d", script)
    if is_classic(name) and _executable(agent := agent_path("heartbeat", name, ocf_root)):
        return ("ocf", agent)
    script = os.path.join(init_dir, name)
    if _executable(script):
        return ("init.d", script)
    unit = f"{name}.service"
    if any(os.path.exists(os.path.join(d, unit)) for d in unit_dirs):
        return ("systemd", unit)
    return None
