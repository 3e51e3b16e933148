"""What the export needs to know about this machine, gathered once (gather.py), then passed in.

The translation is pure; these are the only facts it takes from outside the `Config`:
- `agents`: where each haresources script name is found (`config.find_agent`): "resource.d",
  "ocf" (heartbeat's classic name run as its OCF agent), "init.d", "systemd", or None;
- `local_addresses`: this node's addresses on each heartbeat interface, so a node's corosync
  address can be told from its peer's;
- `addresses`: what the admin gave with `--address NODE=ADDR[,ADDR...]`, one per UDP link;
- `stonith_params`: cluster-glue's parameter names of each STONITH type (`stonith -t TYPE
  -n`), so heartbeat's positional `stonith_host` parameters can be named for Pacemaker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Facts:
    agents: Mapping[str, str | None] = field(default_factory=dict)
    local_addresses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    addresses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stonith_params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
