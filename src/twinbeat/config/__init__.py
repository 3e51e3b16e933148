"""config/: heartbeat's /etc/ha.d files (ha.cf, authkeys, haresources) -> a frozen `Config`.

`Config` composes one typed result per file: `hacf: HaCf`, `authkeys: AuthKeys`,
`groups: tuple[Group, ...]`; media and resources are closed unions (`Medium`, `Resource`)
that the drivers `match` on.

Pure parsers and the model only; the daemon and `twinbeat check` are the callers. Nothing
in here imports trio, the core or the drivers. See docs/config.md for the accepted syntax
and docs/internals.md §1 for the model contract.
"""

from __future__ import annotations

from twinbeat.config.agents import find_agent
from twinbeat.config.loader import load, load_for_command, local_node_name
from twinbeat.config.messages import ConfigErrors, ConfigMessage
from twinbeat.config.model import (
    AuthKey,
    AuthKeys,
    AutoFailback,
    Bcast,
    Config,
    Group,
    HaCf,
    IPaddrResource,
    Link,
    Mcast,
    Medium,
    PingGroup,
    Resource,
    ScriptResource,
    Serial,
    Ucast,
    UdpMedium,
)

__all__ = [
    "AuthKey",
    "AuthKeys",
    "AutoFailback",
    "Bcast",
    "Config",
    "ConfigErrors",
    "ConfigMessage",
    "Group",
    "HaCf",
    "IPaddrResource",
    "Link",
    "Mcast",
    "Medium",
    "PingGroup",
    "Resource",
    "ScriptResource",
    "Serial",
    "Ucast",
    "UdpMedium",
    "find_agent",
    "load",
    "load_for_command",
    "local_node_name",
]
