"""The configuration model: frozen, typed dataclasses built by `twinbeat.config.load`.

This is the contract of docs/internals.md §1. Everything downstream (the daemon, which
builds the core's `Params`; the drivers; `twinbeat check`) reads these objects and never
the files. Each file is parsed once into typed values and composed, never copied:
`Config` holds the `HaCf` of ha.cf, the `AuthKeys` of authkeys and the `Group`s of
haresources. Times are float seconds. Nothing here does I/O or imports the parsers.

Key material lives only in `AuthKey.key`, which is excluded from every repr so that a
logged or printed model cannot leak it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from twinbeat.config.messages import ConfigMessage

# --- media (ha.cf: bcast, ucast, mcast, serial) ----------------------------------------


@dataclass(frozen=True, slots=True)
class Bcast:
    """`bcast IFACE`: UDP broadcast to the interface's broadcast address on `udpport`."""

    iface: str


@dataclass(frozen=True, slots=True)
class Ucast:
    """`ucast IFACE PEER`: UDP unicast on `udpport`.

    Every `ucast` line naming the same interface belongs to ONE link (its name is the
    interface), so a shared ha.cf listing both nodes' addresses gives one link, not two.
    `peers` holds every address given for the interface, in ha.cf order (at least one).
    One of them may be the local node's own address: the UDP driver skips addresses that
    are local (heartbeat simply sent to itself and dropped the copies as duplicates, §5.2).
    """

    iface: str
    peers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Mcast:
    """`mcast IFACE GROUP PORT TTL LOOP` (the port here replaces `udpport`)."""

    iface: str
    group: str
    port: int
    ttl: int
    loop: bool


@dataclass(frozen=True, slots=True)
class Serial:
    """`serial DEVICE`: a point-to-point serial line at `HaCf.baud`."""

    device: str


Medium = Bcast | Ucast | Mcast | Serial
UdpMedium = Bcast | Ucast | Mcast


@dataclass(frozen=True, slots=True)
class Link:
    """One medium instance; heartbeat's link name is the interface or the device path."""

    name: str
    link_id: int  # on the wire: UDP links 0,1,2... in ha.cf order; serial links 0x80+n
    medium: Medium
    line: int = field(default=0, compare=False)  # ha.cf line of the medium (for messages)


SERIAL_LINK_ID_BASE = 0x80

# --- resources (haresources) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IPaddrResource:
    """`IPaddr::ADDR[/PREFIX[/IFACE[/BROADCAST]]]`, `IPaddr2::...`, a bare IPv4 address, or an
    IPv6 address in those forms or heartbeat's `IPv6addr::ADDR[/PREFIX[/IFACE]]` (ipv6.py)."""

    agent: str  # "IPaddr" | "IPaddr2" | "IPv6addr"
    address: str  # canonical text: dotted quad, or compressed IPv6 (`":" in address`)
    prefixlen: int | None
    iface: str | None
    broadcast: str | None  # IPv4 only
    text: str  # as written in haresources

    @property
    def ipv6(self) -> bool:
        return ":" in self.address


@dataclass(frozen=True, slots=True)
class ScriptResource:
    """`NAME` or `NAME::ARG1::ARG2...`: run `NAME ARGS... start|stop|status`."""

    name: str
    args: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class OcfResource:
    """`ocf:PROVIDER:AGENT[::NAME=VALUE...]`: an OCF resource agent with named parameters.

    Run as `<OCF_ROOT>/resource.d/PROVIDER/AGENT start|stop|monitor` with each parameter in
    the environment as `OCF_RESKEY_NAME` (docs/resources.md). `params` keep haresources' order.
    """

    provider: str
    agent: str
    params: tuple[tuple[str, str], ...]
    text: str


Resource = IPaddrResource | ScriptResource | OcfResource


@dataclass(frozen=True, slots=True)
class Group:
    """One haresources line: started left to right, stopped right to left."""

    key: str  # text of the first resource; unique in the file
    primary: str  # the preferred node, lower-case
    resources: tuple[Resource, ...]
    path: str
    line: int


# --- authkeys ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthKey:
    """One `N method [key]` line of authkeys."""

    index: int
    method: str  # "md5" | "sha1" | "sha256" | "crc"
    key: bytes | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class AuthKeys:
    """authkeys: `active` is the `auth N` index used to sign; all keys verify."""

    active: int
    keys: dict[int, AuthKey]

    def __repr__(self) -> str:
        methods = ", ".join(f"{k.index}:{k.method}" for k in self.keys.values())
        return f"AuthKeys(active={self.active}, keys=[{methods}])"


# --- fencing (ha.cf: stonith, stonith_host, fence, fence_*; docs/fencing.md) -----------


@dataclass(frozen=True, slots=True)
class StonithHost:
    """`stonith_host HOSTFROM TYPE PARAMS...`: heartbeat's R1 STONITH line, run through
    cluster-glue's `stonith -t TYPE` with PARAMS as heartbeat passed them. Only the node named
    HOSTFROM (`*`: every node) uses the line; PARAMS may hold a password, so no repr shows it."""

    hostfrom: str  # "*" or a node name, lower-case
    type: str  # a cluster-glue device type: `null`, `external/ipmi`, ...
    params: str = field(repr=False)  # the rest of the line, tokens joined by one space
    line: int = 0


@dataclass(frozen=True, slots=True)
class StonithFile:
    """`stonith TYPE FILE`: `stonith -t TYPE -F FILE`; every node uses the line."""

    type: str
    file: str  # absolute path; its first non-comment line holds the parameters
    line: int = 0


@dataclass(frozen=True, slots=True)
class FenceAgent:
    """`fence [NODE] AGENT [KEY=VALUE...]` (twinbeat's own): a fence-agents program, its
    options fed on stdin. NODE (default `*`) is the node the device fences; options may hold
    a password (`password_file=` is the way to keep it out of ha.cf), so no repr shows them."""

    target: str  # "*" or a node name, lower-case
    agent: str  # `fence_NAME` (found on PATH or in /usr/sbin) or an absolute path
    options: tuple[tuple[str, str], ...] = field(repr=False)  # ha.cf order, keys lower-case
    line: int = 0


FenceDevice = StonithHost | StonithFile | FenceAgent


class FenceAction(enum.Enum):
    """`fence_action reboot|off`: what a fence asks of the device (heartbeat: reset)."""

    REBOOT = "reboot"
    OFF = "off"


DEFAULT_FENCE_TIMEOUT = 60.0  # one device's run; Pacemaker's stonith-timeout default


@dataclass(frozen=True, slots=True)
class Fencing:
    """Every fencing line of ha.cf, for either node, and the settings that go with them."""

    devices: tuple[FenceDevice, ...] = ()  # ha.cf order: tried in this order
    delay: float = 0.0  # `fence_delay`: the head start (the core decides which node waits)
    timeout: float = DEFAULT_FENCE_TIMEOUT  # `fence_timeout`: one device's run, then killed
    action: FenceAction = FenceAction.REBOOT

    def devices_for(self, node: str, peer: str | None) -> tuple[FenceDevice, ...]:
        """The devices `node` uses against `peer`: heartbeat reads only the `stonith_host`
        lines whose HOSTFROM is `*` or the local node; a `fence` line serves when it targets
        `*` or the peer; a `stonith` line serves every node. None without a peer."""
        if peer is None:
            return ()
        chosen: list[FenceDevice] = []
        for device in self.devices:
            match device:
                case StonithHost(hostfrom=hostfrom) if hostfrom not in ("*", node):
                    continue
                case FenceAgent(target=target) if target not in ("*", peer):
                    continue
            chosen.append(device)
        return tuple(chosen)


# --- ha.cf -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonitorOverride:
    """`monitor RESOURCE [interval=T] [timeout=T] [off]`: one resource's own check settings.

    `resource` is the resource's text as written in haresources; None keeps the global value.
    """

    resource: str
    interval: float | None
    timeout: float | None
    off: bool
    line: int


@dataclass(frozen=True, slots=True)
class Monitoring:
    """How resources are checked while held (twinbeat's own directives, docs/config.md).

    `interval` None: `monitor_interval off` (only resources with their own interval are
    checked). `timeout` None: not given, so an OCF agent's meta-data decides, else
    DEFAULT_MONITOR_TIMEOUT. What a failure leads to is the core's: `migration_threshold`
    failures on this node move the group to the peer; a failure older than
    `failure_timeout` no longer counts.
    """

    interval: float | None = 5.0
    timeout: float | None = None
    overrides: tuple[MonitorOverride, ...] = ()
    migration_threshold: int = 3
    failure_timeout: float = 600.0

    def interval_for(self, text: str) -> float | None:
        """The check interval of the resource written `text`; None: not checked."""
        for override in self.overrides:
            if override.resource == text:
                if override.off:
                    return None
                return override.interval if override.interval is not None else self.interval
        return self.interval

    def timeout_for(self, text: str) -> float | None:
        """The check timeout given for `text` (its own, else the global); None: not given."""
        for override in self.overrides:
            if override.resource == text and override.timeout is not None:
                return override.timeout
        return self.timeout



class AutoFailback(enum.Enum):
    """`auto_failback on|off|legacy` (heartbeat's default is legacy, which behaves as on)."""

    ON = "on"
    OFF = "off"
    LEGACY = "legacy"

    @property
    def fails_back(self) -> bool:
        """Whether a group goes back to its preferred node when that node is available."""
        return self is not AutoFailback.OFF


@dataclass(frozen=True, slots=True)
class PingGroup:
    """`ping_group NAME HOST...`: one ping node that is up when any of its hosts answers."""

    name: str
    hosts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Respawn:
    """`respawn USER /PATH [ARGS...]`: a program the daemon runs as USER and restarts when it
    exits (heartbeat's managed client child; daemon/respawn.py). `args` are the line's further
    words; nothing goes through a shell."""

    user: str
    command: str  # absolute path
    args: tuple[str, ...]
    line: int = field(default=0, compare=False)  # where ha.cf says it (not part of its identity)

    @property
    def text(self) -> str:
        """The line as a heartbeat admin wrote it, for logs and the status."""
        return " ".join((self.user, self.command, *self.args))


@dataclass(frozen=True, slots=True)
class MetricsEndpoint:
    """`metrics ADDRESS:PORT` (twinbeat's own, config/metrics.py): a Prometheus endpoint."""

    host: str  # an IPv4 or IPv6 literal, without brackets (IPv6 may carry `%iface`)
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class HaCf:
    """What ha.cf says, typed, with heartbeat's defaults applied (docs/config.md)."""

    nodes: tuple[str, ...]  # every `node`, ha.cf order, lower-case; at most two
    keepalive: float
    deadtime: float
    warntime: float
    initdead: float
    udpport: int
    baud: int
    links: tuple[Link, ...]
    auto_failback: AutoFailback
    ping: tuple[str, ...]
    ping_groups: tuple[PingGroup, ...]
    logfile: str | None
    debugfile: str | None
    logfacility: str | None  # None: no syslog (not given, or `logfacility none`)
    realtime: bool
    watchdog: str | None
    garp_count: int  # gratuitous ARPs per burst after acquiring an address (twinbeat's own)
    garp_interval: float  # seconds between them
    monitoring: Monitoring = field(default_factory=Monitoring)  # twinbeat's own (monitor*)
    fencing: Fencing = Fencing()  # stonith, stonith_host, fence lines and fence_* settings
    peer_protocol: str = "auto"  # auto | twinbeat | heartbeat (twinbeat's own; migrating.md)
    respawn: tuple[Respawn, ...] = ()  # `respawn` lines that are run (config/respawn.py)
    metrics: tuple[MetricsEndpoint, ...] = ()  # twinbeat's own: Prometheus endpoints (off)

    @property
    def ping_nodes(self) -> tuple[tuple[str, ...], ...]:
        """Each ping node as the hosts of which any one must answer (`ping` is a group of one)."""
        return tuple((host,) for host in self.ping) + tuple(g.hosts for g in self.ping_groups)


# --- the whole configuration ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Config:
    """The whole, validated configuration of the local node: the three files, composed."""

    config_dir: str
    node: str  # the local node, lower-case
    peer: str | None  # the other `node`; None for a single-node ha.cf (heartbeat allows it)
    hacf: HaCf
    authkeys: AuthKeys
    groups: tuple[Group, ...]  # haresources, file order; at most 64
    fingerprint: int  # u32, see fingerprint.py
    warnings: tuple[ConfigMessage, ...]

    @property
    def fence_devices(self) -> tuple[FenceDevice, ...]:
        """The fence devices this node uses against its peer, in the order to try them."""
        return self.hacf.fencing.devices_for(self.node, self.peer)
