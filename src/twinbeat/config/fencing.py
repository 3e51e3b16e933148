"""ha.cf's fencing lines -> `Fencing`: heartbeat's `stonith`/`stonith_host`, twinbeat's `fence`.

Owns the syntax of the three device directives and of `fence_delay`, `fence_timeout` and
`fence_action` (docs/fencing.md), and two pure whole-configuration rules: a device line
naming a node that is not in ha.cf, and heartbeat's warning when storage is unprotected.

- `stonith_host HOSTFROM TYPE PARAMS...` (heartbeat config.c `set_stonith_host_info`): the
  node HOSTFROM (`*`: any) fences through cluster-glue's device TYPE; PARAMS are the rest of
  the line, handed over as heartbeat did (`stonith_set_config_info`). heartbeat silently
  skipped the lines of other nodes; so does `Fencing.devices_for`.
- `stonith TYPE FILE` (`set_stonith_info`): TYPE's parameters are FILE's first line.
- `fence [NODE] AGENT [KEY=VALUE...]`: a fence-agents program (`fence_ipmilan`, or an
  absolute path), its options as the agent's stdin protocol names them. NODE is the node the
  device fences (default `*`); an agent is always `fence_*` or a path, so a first word that
  is neither is the node. `password_file=PATH` reads the password from a root-owned 0600
  file when fencing (secretfile.py), so it never sits in ha.cf.

Nothing here may echo a device's parameters or options' values: they may be passwords.
What needs I/O (does the agent or device type exist, is the secret file safe) is
fencecheck.py's. This module must not import the directive table.
"""

from __future__ import annotations

import re

from twinbeat.config import hacf_settings as s
from twinbeat.config.hacf_state import HaCfState
from twinbeat.config.messages import Report, shown
from twinbeat.config.model import (
    FenceAction,
    FenceAgent,
    FenceDevice,
    Fencing,
    Group,
    StonithFile,
    StonithHost,
)

# cluster-glue builds a shell command from an external/ type's name: letters only, no `..`.
_DEVICE_TYPE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*(/[A-Za-z0-9_][A-Za-z0-9_.+-]*)?")
_AGENT_NAME = re.compile(r"fence_[A-Za-z0-9_]+")
_OPTION_KEY = re.compile(r"[a-z][a-z0-9_]*")
# twinbeat's own option -> the agent's option it fills from a 0600 file when fencing.
SECRET_FILE_OPTIONS = {"password_file": "password", "passwd_file": "password",
                       "snmp_priv_passwd_file": "snmp_priv_passwd"}
INLINE_SECRETS = frozenset({"password", "passwd", "snmp_priv_passwd"})
# Options twinbeat sets itself, or that would fight the core's own timing.
RESERVED_OPTIONS = {
    "action": "set by twinbeat (fence_action for fencing, monitor to check the device)",
    "delay": "the core waits the head start (fence_delay); the agent must not add its own",
}
# haresources resources that mount, import or activate storage: heartbeat's warning applies.
STORAGE_AGENTS = frozenset({"filesystem", "lvm", "lvm-activate", "drbddisk", "drbdupper",
                            "raid1", "iscsi", "iscsilogicalunit", "iscsitarget", "zfs"})
NO_STONITH = "No STONITH device configured. Shared disks are not protected."


def is_agent_word(token: str) -> bool:
    """Whether `token` names a fence agent rather than a node (see the module docstring)."""
    return token.startswith(("fence_", "/"))


def d_stonith_host(state: HaCfState, args: list[str], line: int) -> None:
    if len(args) < 2:
        state.error(line, "stonith_host: needs HOSTFROM and a device TYPE (heartbeat: No "
                          "Stonith type given)")
        return
    hostfrom, kind, params = args[0].lower(), args[1], " ".join(args[2:])
    if hostfrom != "*" and not hostfrom.isprintable():
        state.error(line, f"stonith_host {shown(hostfrom)}: bad host name")
    elif _device_type_ok(state, "stonith_host", kind, line):
        state.fence_devices.append(StonithHost(hostfrom, kind, params, line))


def d_stonith(state: HaCfState, args: list[str], line: int) -> None:
    if len(args) != 2:
        state.error(line, "stonith: needs a device TYPE and its parameter FILE (stonith TYPE "
                          "/etc/ha.d/stonith.cfg)")
        return
    kind, path = args
    if not path.startswith("/"):
        state.error(line, f"stonith {kind} {shown(path)}: the parameter file must be an "
                          "absolute path")
    elif _device_type_ok(state, "stonith", kind, line):
        state.fence_devices.append(StonithFile(kind, path, line))


def _device_type_ok(state: HaCfState, name: str, kind: str, line: int) -> bool:
    if _DEVICE_TYPE.fullmatch(kind) and ".." not in kind:
        return True
    state.error(line, f"{name} {shown(kind)}: bad STONITH device type (a name from "
                      "`stonith -L`, such as external/ipmi)")
    return False


def d_fence(state: HaCfState, args: list[str], line: int) -> None:
    target = "*"
    if args and not is_agent_word(args[0]):
        target, args = args[0].lower(), args[1:]
    if not args or not is_agent_word(args[0]):
        state.error(line, "fence: needs a fence agent (fence [NODE] fence_AGENT [KEY=VALUE "
                          "...])")
        return
    agent, words = args[0], args[1:]
    if not (_AGENT_NAME.fullmatch(agent) or (agent.startswith("/") and agent.isprintable())):
        state.error(line, f"fence {shown(agent)}: bad agent name (fence_NAME, or an "
                          "absolute path)")
        return
    options = _options(state, agent, words, line)
    if options is not None:
        state.fence_devices.append(FenceAgent(target, agent, options, line))


def _options(state: HaCfState, agent: str, words: list[str],
             line: int) -> tuple[tuple[str, str], ...] | None:
    """The KEY=VALUE words, checked; None after reporting a problem (values never shown)."""
    options: dict[str, str] = {}
    ok = True
    for word in words:
        key, sep, value = word.partition("=")
        key = key.lower()
        problem = _option_problem(key, sep, value, options)
        if problem is not None:
            state.error(line, f"fence {shown(agent)}: option {shown(key)}: {problem}")
            ok = False
            continue
        options[key] = value
    if ok and {"plug", "port"} <= options.keys():
        state.error(line, f"fence {shown(agent)}: give plug or port, not both")
        ok = False
    if ok and INLINE_SECRETS & options.keys():
        state.warn(line, f"fence {shown(agent)}: a password in ha.cf, which is usually "
                         "world-readable; keep it in a 0600 file (password_file=PATH)")
    return tuple(options.items()) if ok else None


def _option_problem(key: str, sep: str, value: str, seen: dict[str, str]) -> str | None:
    filled = SECRET_FILE_OPTIONS.get(key, key)  # the agent's option this one ends up setting
    rules = (
        (not sep, "not KEY=VALUE"),
        (not _OPTION_KEY.fullmatch(key), "bad option name (lower-case letters, digits and _)"),
        (key in RESERVED_OPTIONS, RESERVED_OPTIONS.get(key, "")),
        (key in seen, "given twice"),
        (not value.isprintable(), "control characters in the value"),
        (key in SECRET_FILE_OPTIONS and not value.startswith("/"),
         "the secret file must be an absolute path"),
        (filled in {SECRET_FILE_OPTIONS.get(k, k) for k in seen},
         f"{filled} is given twice (inline and from a file)"),
    )
    return next((problem for broken, problem in rules if broken), None)


def fencing_of(state: HaCfState) -> Fencing:
    """The `Fencing` of the whole file; warns about lines that can never be used."""
    devices = tuple(state.fence_devices)
    for device in devices:
        name = _named_node(device)
        if name is not None and name != "*" and name not in state.nodes:
            state.warn(device.line, f"{describe(device)}: {shown(name)} is not a node in "
                                    "ha.cf; this line is never used")
    delay = state.given(s.FENCE_DELAY)
    if delay is not None and not devices:
        state.warn(delay[1], "fence_delay: no fencing configured (stonith, stonith_host or "
                             "fence)")
    return Fencing(
        devices=devices,
        delay=state.value(s.FENCE_DELAY, 0.0),
        timeout=state.value(s.FENCE_TIMEOUT, Fencing().timeout),
        action=state.value(s.FENCE_ACTION, FenceAction.REBOOT),
    )


def _named_node(device: FenceDevice) -> str | None:
    match device:
        case StonithHost(hostfrom=hostfrom):
            return hostfrom
        case FenceAgent(target=target):
            return target
        case StonithFile():
            return None


def describe(device: FenceDevice) -> str:
    """A device as an admin wrote it, without its parameters or options (passwords)."""
    match device:
        case StonithHost(hostfrom=hostfrom, type=kind):
            return f"stonith_host {hostfrom} {kind}"
        case StonithFile(type=kind, file=path):
            return f"stonith {kind} {path}"
        case FenceAgent(target=target, agent=agent):
            return f"fence {target} {agent}" if target != "*" else f"fence {agent}"


def shown_options(device: FenceAgent) -> str:
    """`KEY=VALUE ...` with every value that could be a secret replaced by `***`."""
    return " ".join(f"{key}={'***' if key in INLINE_SECRETS else value}"
                    for key, value in device.options)


def storage_resource(name: str) -> bool:
    """Whether a haresources script name mounts, imports or activates storage
    (`Filesystem`, `LVM`, `drbddisk`, `Raid1`, `iSCSI`; `ocf:PROVIDER:TYPE` by its TYPE)."""
    parts = name.split(":")
    if len(parts) == 3 and parts[0].lower() == "ocf":
        name = parts[2]
    return name.lower() in STORAGE_AGENTS


def unprotected_storage(fenced: bool, groups: tuple[Group, ...], report: Report) -> None:
    """heartbeat's warning (reference §6.5) at the first resource that touches storage,
    when this node has no fence device: a split brain would mount the disk twice."""
    if fenced:
        return
    for group in groups:
        for resource in group.resources:
            # By the text as written, whatever type the resource was read as (a script, or an
            # OCF resource `ocf:heartbeat:Filesystem::...`).
            if storage_resource(resource.text.split("::", 1)[0]):
                report.warn(group.path, group.line,
                            f"{NO_STONITH} ({shown(resource.text)} uses storage; configure "
                            "stonith_host or fence, docs/fencing.md)")
                return
