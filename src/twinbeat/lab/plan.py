"""The lab's fixed plan: names, addresses, timer presets and where files go.

Pure data; imports nothing that touches the system (config's pure OCF helpers aside).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from twinbeat.config.model import OcfResource
from twinbeat.config.ocf import instance_name, parse_ocf
from twinbeat.lab.files import NodeFiles

NODES = ("prime", "calc")
ROLES = (*NODES, "client", "lan")

# 198.18.0.0/15 (RFC 2544 benchmarking) only: never routed, never the host's.
LAN_PREFIX = 24
LAN_ADDR = {"prime": "198.18.1.1", "calc": "198.18.1.2", "client": "198.18.1.10"}
VIP = "198.18.1.100"
HB_PREFIX = 24
HB_ADDR = {"prime": "198.18.2.1", "calc": "198.18.2.2"}

# bench/flood.py's junk sender: a further host on the heartbeat cable, made on demand only
# (`Lab.flood_host`), in `<name>-flood`.
FLOOD_ROLE = "flood"
FLOOD_ADDR = "198.18.2.66"
FLOOD_IFACE = "eth1"

LAN_IFACE = "eth0"  # each node's (and the client's) LAN interface, inside its namespace
HB_IFACE = "eth1"  # the dedicated heartbeat NIC: a veth pair between prime and calc
# prime's eth1 gets this interface index, so that it differs from calc's: the kernel reports
# a veth's carrier change at once only when the veth's index differs from its peer's, and
# otherwise holds it back up to a second after any link change on the host (linkwatch). Both
# lab nodes share one kernel, so prime's own NICs going dark would hold calc's report back;
# on two machines the survivor's kernel never sees the peer's link changes (docs/lab.md).
HB_INDEX = 694
BRIDGE = "br0"  # inside the `<name>-lan` namespace; its ports are named after the roles

APACHE_BIN = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"
DEFAULT_RUN_ROOT = Path("/run/twinbeat-lab")
MAX_NAME = 8  # "<name>-client" stays short enough to read in `ip netns`


@dataclass(frozen=True, slots=True)
class Timers:
    """ha.cf timer lines, as written (heartbeat accepts an `ms` suffix)."""

    keepalive: str
    deadtime: str
    warntime: str
    initdead: str

    @property
    def deadtime_s(self) -> float:
        return parse_seconds(self.deadtime)

    @property
    def keepalive_s(self) -> float:
        return parse_seconds(self.keepalive)

    @property
    def initdead_s(self) -> float:
        return parse_seconds(self.initdead)


PRESETS: dict[str, Timers] = {
    # Snappy enough for a demo under a minute, slow enough to stay stable on a loaded laptop.
    "lab": Timers(keepalive="100ms", deadtime="1", warntime="500ms", initdead="3"),
    # The Linux-HA HOWTO's shape, shortened: keepalive 2, deadtime 10.
    "howto": Timers(keepalive="2", deadtime="10", warntime="5", initdead="20"),
    # The common "1 s keepalive, 3 s deadtime" production setting.
    "1s-3s": Timers(keepalive="1", deadtime="3", warntime="2", initdead="6"),
    # As fast as the daemon claims to go.
    "fast": Timers(keepalive="10ms", deadtime="40ms", warntime="25ms", initdead="1"),
    # The `lab` timers, with apache2 run by resource-agents' OCF agent instead of a script.
    "ocf": Timers(keepalive="100ms", deadtime="1", warntime="500ms", initdead="3"),
}
# Presets whose service is `ocf:heartbeat:apache` (the others: resource.d/apache2).
OCF_PRESETS = frozenset({"ocf"})
OCF_AGENT = "ocf:heartbeat:apache"


def parse_seconds(text: str) -> float:
    """ha.cf time: seconds, or milliseconds with an `ms` suffix."""
    if text.endswith("ms"):
        return float(text[:-2]) / 1000.0
    return float(text)


@dataclass(frozen=True, slots=True)
class Plan:
    """Names and paths of one lab; `name` prefixes everything it creates."""

    name: str
    run_dir: Path
    preset: str = "lab"

    @classmethod
    def make(
        cls, name: str = "tb", run_dir: str | os.PathLike[str] | None = None, preset: str = "lab"
    ) -> Plan:
        if not name or len(name) > MAX_NAME or not all(c.isalnum() or c in "-_" for c in name):
            raise ValueError(
                f"lab name {name!r}: 1-{MAX_NAME} characters of letters, digits, - or _"
            )
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
        path = Path(run_dir) if run_dir is not None else DEFAULT_RUN_ROOT / name
        return cls(name=name, run_dir=path.absolute(), preset=preset)

    @property
    def timers(self) -> Timers:
        return PRESETS[self.preset]

    def netns(self, role: str) -> str:
        if role not in (*ROLES, FLOOD_ROLE):
            raise ValueError(f"unknown lab role {role!r}")
        return f"{self.name}-{role}"

    # -- paths -------------------------------------------------------------------------
    def files(self, node: str) -> NodeFiles:
        """RUN/<node>/: ha.d, state, run, daemon.log, ha-log (see `node.NodeFiles`)."""
        if node not in NODES:
            raise ValueError(f"unknown lab node {node!r}")
        return NodeFiles(node, self.run_dir / node)

    @property
    def ocf(self) -> bool:
        """apache2 is `ocf:heartbeat:apache` (docs/lab.md, the `ocf` preset)."""
        return self.preset in OCF_PRESETS

    @property
    def ocf_config(self) -> Path:
        """The OCF preset's apache2.conf: one file, as haresources must be the same on both
        nodes; each node's paths come from its daemon's environment (`machine_env`)."""
        return self.run_dir / "apache2-ocf.conf"

    @property
    def ocf_resource(self) -> str:
        return f"{OCF_AGENT}::configfile={self.ocf_config}"

    def apache_dir(self, node: str) -> Path:
        return self.files(node).home / "apache2"

    def apache_pidfile(self, node: str) -> Path:
        """Where this preset's apache2 keeps its pid: its own config's PidFile, or for the OCF
        agent (whose config has none) `$HA_VARRUN/apache2-<instance>.pid`."""
        if not self.ocf:
            return self.apache_dir(node) / "apache2.pid"
        return self.machine_run(node) / f"apache2-{ocf_instance(self.ocf_resource)}.pid"

    def machine_run(self, node: str) -> Path:
        """The node's own /run for resource agents (HA_VARRUN): two lab nodes share a disk,
        two real machines do not, and an agent keeps its pid files there."""
        return self.files(node).home / "var-run"

    def machine_env(self, node: str) -> dict[str, str]:
        """What a separate machine would give its resource agents: its own HA_VARRUN and
        HA_RSCTMP (resource-agents' ocf-directories), and the node's home for the OCF
        preset's shared apache2.conf."""
        home = self.files(node).home
        return {"HA_VARRUN": f"{self.machine_run(node)}/", "HA_RSCTMP": str(home / "rsctmp"),
                "TWINBEAT_LAB_HOME": str(home)}

    def resource_script(self, node: str) -> Path:
        return self.files(node).resource_dir / "apache2"

    def tty(self, node: str) -> Path:
        return self.run_dir / f"{node}.tty"

    @property
    def cable_log(self) -> Path:
        return self.run_dir / "cable.log"


def ocf_instance(text: str) -> str:
    """OCF_RESOURCE_INSTANCE of the resource written `text` (the daemon's own rule)."""
    resource = parse_ocf(text)
    assert isinstance(resource, OcfResource), resource
    return instance_name(resource)


def peer_of(node: str) -> str:
    return NODES[1] if node == NODES[0] else NODES[0]
