"""`twinbeat check` for OCF resources: run each agent's `meta-data` and judge the parameters.

Covers `ocf:PROVIDER:AGENT::NAME=VALUE` resources and heartbeat's classic names found as OCF
agents (`Filesystem::/dev/sdb1::/srv/www`, classic.py). Errors, at the haresources line:
- the agent is not an executable file under `<OCF_ROOT>/resource.d/PROVIDER/` (unlike a
  missing init script, which stays a warning as in heartbeat: an `ocf:` resource is new
  syntax, and a group needs its agent on both nodes);
- a classic name with arguments its heartbeat wrapper refused;
- a required parameter missing, or a parameter the agent does not know (an agent ignores
  unknown `OCF_RESKEY_` variables, so a typo would pass silently until the failover).
An agent whose meta-data cannot be read (it hangs, exits non-zero, prints no XML) is a
warning: its parameters are then not checked. An agent without a `monitor` action is a
warning too: it will not be monitored.

Each agent runs once (cached), as an argument list in its own session, under a timeout;
on timeout its whole session is killed by PID. Its stdout goes to a temporary file, not a
pipe, so a child it leaves behind cannot hold `check` up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field

from twinbeat.config.agents import find_agent
from twinbeat.config.classic import ClassicMapping, classic_mapping
from twinbeat.config.messages import ConfigMessage, shown
from twinbeat.config.model import Config, Group, OcfResource, Resource, ScriptResource
from twinbeat.config.ocf import OCF_ROOT, agent_path, ocf_environment
from twinbeat.config.ocfmeta import (
    MAX_META_DATA,
    MetaData,
    MetaDataError,
    parameter_problems,
    parse_meta_data,
)

META_DATA_TIMEOUT = 10.0


def read_meta_data(path: str, *, ocf_root: str = OCF_ROOT,
                   timeout: float = META_DATA_TIMEOUT) -> MetaData:
    """`AGENT meta-data`, parsed; MetaDataError when it cannot be had (see module docstring)."""
    env = ocf_environment(dict(os.environ), provider=os.path.basename(os.path.dirname(path)),
                          agent=os.path.basename(path), instance="twinbeat-check", params=(),
                          timeout=timeout, ocf_root=ocf_root)
    with tempfile.TemporaryFile() as out:
        try:
            process = subprocess.Popen(
                [path, "meta-data"], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        except OSError as exc:
            raise MetaDataError(f"cannot run {path}: {exc.strerror}") from None
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise MetaDataError(f"meta-data timed out after {timeout:g} s") from None
        if code != 0:
            raise MetaDataError(f"meta-data exited {code}")
        out.seek(0)
        return parse_meta_data(out.read(MAX_META_DATA + 1))


@dataclass(slots=True)
class OcfCheck:
    """What `check` prints about OCF resources (and the meta-data read, once per agent)."""

    ocf_root: str = OCF_ROOT
    timeout: float = META_DATA_TIMEOUT
    found: list[str] = field(default_factory=list)  # summary lines, one per resource
    errors: list[ConfigMessage] = field(default_factory=list)
    warnings: list[ConfigMessage] = field(default_factory=list)
    meta_data: dict[str, MetaData | str] = field(default_factory=dict)  # path -> it or why

    def judge(self, group: Group, text: str, target: Target) -> None:
        """One OCF resource: its agent exists, its parameters fit the agent's meta-data."""
        path, params, how = target
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            self.errors.append(_at(group, f"{shown(text)}: no such OCF agent ({path} is not "
                                          "an executable file; Debian: apt-get install "
                                          "resource-agents)"))
            return
        meta = self._meta(path)
        listed = " ".join(f"{name}={value}" for name, value in params)
        self.found.append(f"  {text}: {path} ({how}{'; ' + listed if listed else ''})")
        if isinstance(meta, str):
            self.warnings.append(_at(group, f"{shown(text)}: {meta}; its parameters are not "
                                            "checked"))
            return
        for problem in parameter_problems(meta, params):
            self.errors.append(_at(group, f"{shown(text)}: {problem}"))
        if "monitor" not in meta.actions:
            self.warnings.append(_at(group, f"{shown(text)}: the agent has no monitor action; "
                                            "it will not be monitored"))

    def _meta(self, path: str) -> MetaData | str:
        if path not in self.meta_data:
            try:
                self.meta_data[path] = read_meta_data(path, ocf_root=self.ocf_root,
                                                      timeout=self.timeout)
            except MetaDataError as exc:
                self.meta_data[path] = str(exc)
        return self.meta_data[path]


Target = tuple[str, tuple[tuple[str, str], ...], str]  # agent path, parameters, description


def check_ocf_resources(config: Config, *, ocf_root: str = OCF_ROOT,
                        timeout: float = META_DATA_TIMEOUT) -> OcfCheck:
    """Judge every OCF resource of every group (see the module docstring)."""
    result = OcfCheck(ocf_root, timeout)
    for group in config.groups:
        for resource in group.resources:
            target = _ocf_target(config, resource, ocf_root)
            if isinstance(target, str):
                result.errors.append(_at(group, f"{shown(resource.text)}: {target}"))
            elif target is not None:
                result.judge(group, resource.text, target)
    return result


def _ocf_target(config: Config, resource: Resource, ocf_root: str) -> Target | str | None:
    """(agent path, parameters, how it was named) if `resource` runs an OCF agent here,
    the reason it cannot, or None (not an OCF resource)."""
    match resource:
        case OcfResource(provider=provider, agent=agent, params=params):
            return agent_path(provider, agent, ocf_root), params, "ocf"
        case ScriptResource(name=name, args=args):
            found = find_agent(config.config_dir, name, ocf_root=ocf_root)
            if found is None or found[0] != "ocf":
                return None
            mapping = classic_mapping(name, args)
            if not isinstance(mapping, ClassicMapping):
                return f"{mapping} (heartbeat's {name} wrapper, run as ocf:heartbeat:{name})"
            return found[1], mapping.params, f"heartbeat's classic name, as ocf:heartbeat:{name}"
    return None


def _at(group: Group, text: str) -> ConfigMessage:
    return ConfigMessage(group.path, group.line, text)
