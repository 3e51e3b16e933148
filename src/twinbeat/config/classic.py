"""heartbeat's classic resource names, run through OCF agents when heartbeat is not installed.

heartbeat 3.0.6 shipped `/etc/ha.d/resource.d/{Filesystem,apache,IPsrcaddr,...}`: thin shell
wrappers (over `hto-mapfuncs`) that turn haresources' positional `::` arguments into OCF
parameters and run the OCF agent of the same name from resource-agents. A haresources line
such as `prime 198.18.1.100 Filesystem::/dev/sdb1::/srv/www::ext4 apache` keeps working
without heartbeat when `resource.d/NAME` is absent: `classic_mapping` does what the wrapper
did (same parameter names, same argument counts, same OCF_RESOURCE_INSTANCE), and the
agent lookup (agents.py) runs `ocf:heartbeat:NAME` with it.

The mappings were read from heartbeat's `resources/heartbeat/*.in`; where a wrapper differs
from its usage line, its usage line wins (portblock's wrapper refused every call:
`$# != 3` with four arguments). `IPaddr`, `IPaddr2` and `IPv6addr` are not here: they are
twinbeat's own netlink agent (haresources.py, ipv6.py). heartbeat's generic `OCF` wrapper
(instance files under `conf/OCF/`) is not mapped; write `ocf:PROVIDER:AGENT::NAME=VALUE`
instead (ocf.py). Pure: no file is looked at here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ClassicMapping:
    """What heartbeat's wrapper would have run: `ocf:heartbeat:AGENT` with these parameters."""

    agent: str
    params: Params
    instance: str  # OCF_RESOURCE_INSTANCE, as the wrapper set it


@dataclass(frozen=True, slots=True)
class _Positional:
    """A wrapper that names its arguments in order; `fewest` of them are required."""

    names: tuple[str, ...]
    fewest: int
    instance: tuple[int, ...]  # the arguments the wrapper appended to `AGENT_` (none: AGENT)

    def map(self, agent: str, args: tuple[str, ...]) -> ClassicMapping | str:
        if not self.fewest <= len(args) <= len(self.names):
            return f"{agent} takes {_usage(agent, self.names, self.fewest)}"
        params = tuple(zip(self.names, args, strict=False))
        if not self.instance:
            return ClassicMapping(agent, params, agent)
        tail = "_".join(args[i] if i < len(args) else "" for i in self.instance)
        return ClassicMapping(agent, params, f"{agent}_{tail}")


def _usage(agent: str, names: tuple[str, ...], fewest: int) -> str:
    """`apache[::configfile]`, `Filesystem::device::directory[::fstype[::options]]`."""
    required = "".join(f"::{name}" for name in names[:fewest])
    optional = "".join(f"[::{name}" for name in names[fewest:]) + "]" * (len(names) - fewest)
    return agent + required + optional


def _delay(args: tuple[str, ...]) -> ClassicMapping | str:
    # Delay::[startdelay[::stopdelay]]; the wrapper's startdelay default is 10
    if len(args) > 2:
        return "Delay takes Delay[::startdelay[::stopdelay]]"
    start = args[0] if args else "10"
    params = (("startdelay", start), *((("stopdelay", args[1]),) if len(args) > 1 else ()))
    return ClassicMapping("Delay", params, f"Delay_{start}")


def _audible_alarm(args: tuple[str, ...]) -> ClassicMapping | str:
    # AudibleAlarm::[node1::node2...]: every argument joins the node list
    params = (("nodelist", " ".join(args)),) if args else ()
    return ClassicMapping("AudibleAlarm", params, "AudibleAlarm")


def _send_arp(args: tuple[str, ...]) -> ClassicMapping | str:
    """SendArp::IP/NIC: one argument split on `/`; heartbeat's instance: SendArp_<IP>."""
    parts = args[0].split("/") if len(args) == 1 else []
    if len(parts) != 2 or not all(parts):
        return "SendArp takes SendArp::IP/NIC"
    return ClassicMapping("SendArp", (("ip", parts[0]), ("nic", parts[1])),
                          f"SendArp_{parts[0]}")


def _was(args: tuple[str, ...]) -> ClassicMapping | str:
    # WAS::[config-file | port]. The wrapper tested `-f` at run time; without I/O here, an
    # all-digits argument is the (advanced edition's) port, anything else the config file.
    if len(args) > 1:
        return "WAS takes WAS[::config-file] or WAS[::port]"
    if not args:
        return ClassicMapping("WAS", (), "WAS")
    name = "port" if args[0].isdigit() else "config"
    return ClassicMapping("WAS", ((name, args[0]),), "WAS")


def _win_popup(args: tuple[str, ...]) -> ClassicMapping | str:
    if len(args) > 1:
        return "WinPopup takes WinPopup[::hostfile]"
    return ClassicMapping("WinPopup", (("hostfile", args[0] if args else "hosts"),), "WinPopup")


_POSITIONAL: dict[str, _Positional] = {
    "Filesystem": _Positional(("device", "directory", "fstype", "options"), 2, (0,)),
    "ICP": _Positional(("driveid", "device"), 2, (0,)),
    "IPsrcaddr": _Positional(("ipaddress",), 1, ()),
    "LVM": _Positional(("volgrpname",), 1, ()),
    "LinuxSCSI": _Positional(("scsi",), 1, (0,)),
    "MailTo": _Positional(("email", "subject"), 1, ()),
    "Raid1": _Positional(("raidconf", "raiddev"), 2, (0,)),
    "ServeRAID": _Positional(("serveraid", "mergegroup"), 2, (0,)),
    "Xinetd": _Positional(("service",), 1, ()),
    "apache": _Positional(("configfile",), 0, (0,)),
    "db2": _Positional(("instance",), 1, (0,)),
    "portblock": _Positional(("protocol", "portno", "action"), 3, (0, 1, 2)),
}

_SPECIAL: dict[str, Callable[[tuple[str, ...]], ClassicMapping | str]] = {
    "AudibleAlarm": _audible_alarm,
    "Delay": _delay,
    "SendArp": _send_arp,
    "WAS": _was,
    "WinPopup": _win_popup,
}

# heartbeat's ids wrapper: no arguments, or all three.
_IDS = ("informixdir", "informixserver", "onconfig")

CLASSIC_NAMES: tuple[str, ...] = tuple(sorted([*_POSITIONAL, *_SPECIAL, "ids"],
                                              key=str.lower))


def is_classic(name: str) -> bool:
    return name in CLASSIC_NAMES


def classic_mapping(name: str, args: tuple[str, ...]) -> ClassicMapping | str | None:
    """heartbeat's wrapper for `name` applied to `args`: the mapping, the reason the
    arguments do not fit (the wrapper's usage), or None when `name` is not a classic name."""
    if name in _POSITIONAL:
        return _POSITIONAL[name].map(name, args)
    if name in _SPECIAL:
        return _SPECIAL[name](args)
    if name == "ids":
        if len(args) not in (0, 3):
            return "ids takes no arguments, or ids::informixdir::informixserver::onconfig"
        params = tuple(zip(_IDS, args, strict=False))
        return ClassicMapping("ids", params, f"ids_{args[1] if args else ''}")
    return None
