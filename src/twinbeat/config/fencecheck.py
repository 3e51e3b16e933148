"""The fencing checks that need this machine: are the devices this node uses runnable?

Used by `twinbeat check` and by `twinbeat run` before it starts (a node that cannot fence
would wait for ever for a confirmation). For each device of `Config.fence_devices`:

- `stonith`/`stonith_host`: cluster-glue's `stonith` is installed and lists the TYPE
  (`stonith -L`); a `stonith` FILE can be read (a warning if others may read it: it usually
  holds a password);
- `fence`: the agent is found (`fence_NAME` on PATH or in /usr/sbin, or the absolute path)
  and can be run; every secret file passes secretfile.py's rules; option names the agent's
  metadata (`AGENT -o metadata`) does not list give a warning.

Plus two warnings about the whole file: fencing lines of which none serves this node, and
stonith_host parameters (passwords, often) in an ha.cf others may read. Every message is
`ha.cf:LINE: ...` and shows no parameter or option value. Commands run as argument lists
under a timeout (subprocess.run kills the child when it expires).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from twinbeat.config.fencing import SECRET_FILE_OPTIONS, describe, shown_options
from twinbeat.config.messages import ConfigMessage, shown
from twinbeat.config.model import Config, FenceAgent, FenceDevice, StonithFile, StonithHost
from twinbeat.config.secretfile import SecretFileError, read_secret

SBIN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
PROBE_TIMEOUT = 10.0  # `stonith -L`, `AGENT -o metadata`: local programs, no device talked to
MAX_OUTPUT = 1 << 20
# The environment of every fencing program: nothing of the daemon's leaks into it.
FENCE_ENV = {"PATH": SBIN_PATH, "LC_ALL": "C"}


def _search_path() -> str:
    return f"{os.environ.get('PATH', '')}:{SBIN_PATH}"


def find_stonith() -> str | None:
    """cluster-glue's `stonith` command (Debian: /usr/sbin/stonith), or None."""
    return shutil.which("stonith", path=_search_path())


def find_fence_agent(agent: str) -> str | None:
    """The program of a `fence` line: an absolute path as given, else `fence_NAME` on PATH
    or in /usr/sbin (fence-agents installs there); None when not found or not executable."""
    if agent.startswith("/"):
        return agent if os.path.isfile(agent) and os.access(agent, os.X_OK) else None
    return shutil.which(agent, path=_search_path())


def parameters_from_metadata(xml: bytes) -> frozenset[str] | None:
    """The parameter names of a fence agent's `-o metadata` XML, or None if it is not that."""
    import xml.etree.ElementTree as ET  # noqa: PLC0415 (only `check` reads metadata: RSS)

    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    names = {p.get("name") for p in root.iter("parameter")}
    return frozenset(n for n in names if n) or None


def _output(argv: Sequence[str]) -> bytes | None:
    """stdout of a short local command that exits 0, or None."""
    try:
        done = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=PROBE_TIMEOUT, env=FENCE_ENV, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout[:MAX_OUTPUT] if done.returncode == 0 else None


def stonith_types(stonith: str) -> frozenset[str] | None:
    out = _output([stonith, "-L"])
    return None if out is None else frozenset(out.decode(errors="replace").split())


def agent_parameters(path: str) -> frozenset[str] | None:
    out = _output([path, "-o", "metadata"])
    return None if out is None else parameters_from_metadata(out)


@dataclass
class FenceCheck:
    """What `check_fencing` found: errors refuse the start, lines go in the summary."""

    errors: list[ConfigMessage] = field(default_factory=list)
    warnings: list[ConfigMessage] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


class _Checker:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.path = os.path.join(config.config_dir, "ha.cf")
        self.found = FenceCheck()
        self._stonith: str | None = None
        self._types: frozenset[str] | None = None

    def error(self, line: int, text: str) -> None:
        self.found.errors.append(ConfigMessage(self.path, line, text))

    def warn(self, line: int, text: str) -> None:
        self.found.warnings.append(ConfigMessage(self.path, line, text))

    def run(self) -> FenceCheck:
        fencing = self.config.hacf.fencing
        devices = self.config.fence_devices
        if fencing.devices and not devices and self.config.peer is not None:
            self.warn(fencing.devices[0].line,
                      f"fencing lines, but none for node {self.config.node} (stonith_host "
                      "HOSTFROM, fence NODE): this node takes over without fencing")
        for device in devices:
            self.device(device)
        self._readable_params([d for d in devices if isinstance(d, StonithHost) and d.params])
        return self.found

    def device(self, device: FenceDevice) -> None:
        match device:
            case StonithHost(type=kind) | StonithFile(type=kind):
                program = self._stonith_type(device, kind)
                if isinstance(device, StonithFile):
                    self._stonith_file(device)
            case FenceAgent():
                program = self._agent(device)
        if program is not None:
            where = f"{describe(device)} (ha.cf:{device.line}) -> {program}"
            options = shown_options(device) if isinstance(device, FenceAgent) else ""
            self.found.lines.append(f"  {where}{'; ' + options if options else ''}")

    def _stonith_type(self, device: FenceDevice, kind: str) -> str | None:
        if self._stonith is None:
            self._stonith = find_stonith()
            if self._stonith is not None:
                self._types = stonith_types(self._stonith)
        if self._stonith is None:
            self.error(device.line, f"{describe(device)}: cluster-glue's stonith command not "
                                    "found (apt-get install cluster-glue)")
        elif self._types is not None and kind not in self._types:
            self.error(device.line, f"{describe(device)}: no STONITH device type "
                                    f"{shown(kind)} (`stonith -L` lists them)")
        else:
            return f"{self._stonith} -t {kind}"
        return None

    def _stonith_file(self, device: StonithFile) -> None:
        try:
            st = os.stat(device.file)
        except OSError as exc:
            self.error(device.line, f"{describe(device)}: cannot read the parameter file: "
                                    f"{exc.strerror}")
            return
        if not stat.S_ISREG(st.st_mode):
            self.error(device.line, f"{describe(device)}: the parameter file is not a "
                                    "regular file")
        elif stat.S_IMODE(st.st_mode) & 0o077:
            self.warn(device.line, f"{describe(device)}: others may read the parameter file "
                                   f"(mode {stat.S_IMODE(st.st_mode):04o}); it usually holds "
                                   "a password: 600 recommended")

    def _agent(self, device: FenceAgent) -> str | None:
        program = find_fence_agent(device.agent)
        if program is None:
            where = "" if device.agent.startswith("/") else " (not on PATH nor in /usr/sbin)"
            self.error(device.line, f"{describe(device)}: no such fence agent{where}; "
                                    "apt-get install fence-agents")
            return None
        for key, value in device.options:
            if key in SECRET_FILE_OPTIONS:
                try:
                    read_secret(value)
                except SecretFileError as exc:
                    self.error(device.line, f"{describe(device)}: {key}: {exc}")
        known = agent_parameters(program)
        for key, _ in device.options:
            name = SECRET_FILE_OPTIONS.get(key, key)
            if known is not None and name not in known:
                self.warn(device.line, f"{describe(device)}: option {shown(name)} is not "
                                       f"one of the agent's (`{device.agent} -o metadata`)")
        return program

    def _readable_params(self, devices: list[StonithHost]) -> None:
        try:
            mode = stat.S_IMODE(os.stat(self.path).st_mode)
        except OSError:
            return
        if devices and mode & 0o044:
            self.warn(devices[0].line, f"stonith_host parameters in an ha.cf others may read "
                                       f"(mode {mode:04o}): if they include a password, use "
                                       "`stonith TYPE FILE` with a 0600 file, or chmod 600")


def check_fencing(config: Config) -> FenceCheck:
    """Every fencing problem of `config` on this machine (see the module docstring)."""
    return _Checker(config).run()
