"""The export's I/O before translating: the `Facts` of this machine (facts.py).

- each haresources script name's kind, by `config.find_agent` (the daemon's own lookup);
- this node's IPv4 addresses on each heartbeat interface, through pyroute2 (never `ip`);
- each cluster-glue STONITH type's parameter names, from `stonith -t TYPE -n`.

Whatever cannot be learned here is left out, and the translation says what that costs
(a warning), so an export on a machine that is not a node still works.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping

from pyroute2 import IPRoute

from twinbeat.config.agents import find_agent
from twinbeat.config.model import Bcast, Config, Mcast, ScriptResource, StonithHost, Ucast
from twinbeat.export.facts import Facts

STONITH_TIMEOUT = 10.0


def gather(config: Config, addresses: Mapping[str, tuple[str, ...]]) -> Facts:
    agents: dict[str, str | None] = {}
    for group in config.groups:
        for resource in group.resources:
            if isinstance(resource, ScriptResource) and resource.name not in agents:
                found = find_agent(config.config_dir, resource.name)
                agents[resource.name] = found[0] if found else None
    ifaces = [link.medium.iface for link in config.hacf.links
              if isinstance(link.medium, Bcast | Ucast | Mcast)]
    kinds = {d.type for d in config.hacf.fencing.devices if isinstance(d, StonithHost)}
    return Facts(agents=agents, local_addresses=local_addresses(ifaces),
                 addresses=dict(addresses),
                 stonith_params={kind: stonith_names(kind) for kind in sorted(kinds)})


def local_addresses(ifaces: list[str]) -> dict[str, tuple[str, ...]]:
    """This host's IPv4 addresses on each interface that exists here (links/iface.py reads
    the same for the UDP link; not imported, as links/ brings trio along)."""
    found: dict[str, tuple[str, ...]] = {}
    try:
        with IPRoute() as ipr:
            for iface in ifaces:
                for index in ipr.link_lookup(ifname=iface)[:1]:
                    found[iface] = tuple(msg.get("address")
                                         for msg in ipr.get_addr(family=2, index=index)
                                         if msg.get("address"))
    except OSError:
        return {}
    return found


def stonith_names(kind: str) -> tuple[str, ...]:
    """cluster-glue's parameter names for `kind`, in its positional order; () if unknown."""
    program = shutil.which("stonith") or "/usr/sbin/stonith"
    try:
        done = subprocess.run([program, "-t", kind, "-n"], capture_output=True, text=True,
                              timeout=STONITH_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(done.stdout.split()) if done.returncode == 0 else ()
