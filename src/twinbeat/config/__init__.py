"""config/: heartbeat's /etc/ha.d files (ha.cf, authkeys, haresources) -> a frozen `Config`.

Pure parsers and the model only; the daemon and `twinbeat check` are the callers. Nothing
in here imports trio, the core or the drivers. See docs/config.md for the accepted syntax
and docs/internals.md §1 for the model contract.
"""

from __future__ import annotations

from twinbeat.config.agents import find_agent
from twinbeat.config.loader import load, local_node_name
from twinbeat.config.messages import ConfigErrors, ConfigMessage
from twinbeat.config.model import (
    AuthKey,
    AuthKeys,
    Bcast,
    Config,
    Group,
    IPaddrResource,
    Link,
    Mcast,
    Medium,
    PingGroup,
    Resource,
    Respawn,
    ScriptResource,
    Serial,
    Ucast,
)

__all__ = [
    "AuthKey",
    "AuthKeys",
    "Bcast",
    "Config",
    "ConfigErrors",
    "ConfigMessage",
    "Group",
    "IPaddrResource",
    "Link",
    "Mcast",
    "Medium",
    "PingGroup",
    "Resource",
    "Respawn",
    "ScriptResource",
    "Serial",
    "Ucast",
    "find_agent",
    "load",
    "local_node_name",
]
