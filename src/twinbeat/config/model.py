"""The configuration model: frozen, typed dataclasses built by `twinbeat.config.load`.

This is the contract of docs/internals.md §1. Everything downstream (the daemon, which
builds the core's `Params`; the drivers; `twinbeat check`) reads these objects and never
the files. Times are float seconds. Nothing here does I/O or imports the parsers.

Key material lives only in `AuthKey.key`, which is excluded from every repr so that a
logged or printed model cannot leak it.
"""

from __future__ import annotations

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
    `peers` holds every address given for the interface, in ha.cf order; `peer` is the
    first of them (kept for the original contract). One of the peers may be the local
    node's own address: the UDP driver skips addresses that are local (heartbeat simply
    sent to itself and dropped the copies as duplicates, §5.2).
    """

    iface: str
    peer: str
    peers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.peers:
            object.__setattr__(self, "peers", (self.peer,))


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
    """`serial DEVICE`: a point-to-point serial line at `Config.baud`."""

    device: str


Medium = Bcast | Ucast | Mcast | Serial


@dataclass(frozen=True, slots=True)
class Link:
    """One medium instance; heartbeat's link name is the interface or the device path."""

    name: str
    link_id: int  # on the wire: UDP links 0,1,2... in ha.cf order; serial links 0x80+n
    medium: Medium


SERIAL_LINK_ID_BASE = 0x80

# --- resources (haresources) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IPaddrResource:
    """`IPaddr::ADDR[/PREFIX[/IFACE[/BROADCAST]]]`, `IPaddr2::...`, or a bare IPv4 address."""

    agent: str  # "IPaddr" | "IPaddr2"
    address: str
    prefixlen: int | None
    iface: str | None
    broadcast: str | None
    text: str  # as written in haresources


@dataclass(frozen=True, slots=True)
class ScriptResource:
    """`NAME` or `NAME::ARG1::ARG2...`: run `NAME ARGS... start|stop|status`."""

    name: str
    args: tuple[str, ...]
    text: str


Resource = IPaddrResource | ScriptResource


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


# --- other ha.cf directives ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PingGroup:
    """`ping_group NAME HOST...`: one ping node that is up when any of its hosts answers."""

    name: str
    hosts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Respawn:
    """`respawn USER /ABS/PATH [ARGS...]`: a child to start and keep running."""

    user: str
    command: tuple[str, ...]  # absolute path first


@dataclass(frozen=True, slots=True)
class Config:
    """The whole, validated configuration of the local node."""

    config_dir: str
    node: str  # the local node, lower-case
    nodes: tuple[str, ...]  # every `node`, ha.cf order
    peers: tuple[str, ...]  # nodes without the local one
    keepalive: float
    deadtime: float
    warntime: float
    initdead: float
    udpport: int
    baud: int
    links: tuple[Link, ...]
    auto_failback: str  # "on" | "off" | "legacy" (legacy behaves as on)
    ping: tuple[str, ...]
    ping_groups: tuple[PingGroup, ...]
    logfile: str | None
    debugfile: str | None
    logfacility: str | None
    use_logd: bool | None  # None: not given
    realtime: bool
    watchdog: str | None
    hopfudge: int
    garp_count: int  # gratuitous ARPs per burst after acquiring an address (twinbeat's own)
    garp_interval: float  # seconds between them
    respawn: tuple[Respawn, ...]
    authkeys: AuthKeys
    groups: tuple[Group, ...]
    fingerprint: int  # u32, see fingerprint.py
    warnings: tuple[ConfigMessage, ...]

    def groups_of(self, node: str) -> tuple[Group, ...]:
        """The groups whose preferred node is `node` (heartbeat's "local"/"foreign" split)."""
        return tuple(g for g in self.groups if g.primary == node)
