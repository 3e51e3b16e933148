"""ha.cf: heartbeat 3.0.6's main configuration file -> `HaCf` (no cross-file checks).

Owns the directive table, the defaults (reference §4, §7.2) and the checks that need
only ha.cf: timer relations, media arguments, baud rates, "at least one medium", "no nodes
defined". The local-node check and everything involving authkeys or haresources are the
loader's. Every problem is reported with its file and line and parsing goes on, so that
`twinbeat check` can show all of them at once.

Departures from heartbeat, all of them lenient (a heartbeat file never breaks):
- `udpport` and `baud` apply to every link wherever they appear (heartbeat needs them
  before the media lines);
- directives heartbeat knows but twinbeat does not act on are accepted with a warning;
- several `ucast` lines on one interface are one link (see model.Ucast).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from twinbeat.config.messages import Report, shown
from twinbeat.config.model import (
    SERIAL_LINK_ID_BASE,
    Bcast,
    Link,
    Mcast,
    Medium,
    PingGroup,
    Respawn,
    Serial,
    Ucast,
)
from twinbeat.config.source import Lines, fields, strip_comment, words
from twinbeat.config.values import (
    MAX_TIME,
    TIME_HINT,
    is_iface_name,
    parse_bool,
    parse_int,
    parse_ipv4,
    parse_time,
)

# Defaults (heartbeat config.c: init_config; reference §4 and §7.2).
DEFAULT_KEEPALIVE = 1.0
DEFAULT_DEADTIME = 30.0
DEFAULT_UDPPORT = 694
DEFAULT_BAUD = 19200
DEFAULT_HOPFUDGE = 1
# Gratuitous ARPs after acquiring an address: heartbeat's IPaddr sends 10, 500 ms apart.
DEFAULT_GARP_COUNT = 10
DEFAULT_GARP_INTERVAL = 0.5
MAX_GARP_COUNT = 100
# config.c: StringToBaud
BAUD_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800)
MAX_UDP_LINKS = SERIAL_LINK_ID_BASE
MAX_SERIAL_LINKS = 0x100 - SERIAL_LINK_ID_BASE
SYSLOG_FACILITIES = frozenset(
    {"auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog",
     "user", "uucp"} | {f"local{n}" for n in range(8)}
)

# Directives heartbeat 3.0.6 accepts that twinbeat reads but does not act on: each one
# costs a one-line warning, never an error, so an existing ha.cf keeps working.
IGNORED: dict[str, str] = {
    "apiauth": "no heartbeat API clients",
    "compression": "frames are never compressed",
    "compression_threshold": "frames are never compressed",
    "conn_logd_time": "there is no logd",
    "coredumps": "core dumps follow systemd's settings",
    "coreroot": "core dumps follow systemd's settings",
    "crm_daemon_dir": "Pacemaker only",
    "crmd_spawns_pengine": "Pacemaker only",
    "record_config_changes": "Pacemaker only",
    "record_pengine_inputs": "Pacemaker only",
    "enable_config_writes": "Pacemaker only",
    "quorum_server": "Pacemaker only",
    "cluster": "the cluster is the two nodes on `node` lines",
    "deadping": "ping nodes use deadtime",
    "debug": "use debugfile for debug output",
    "env": "no respawned clients read HA_ variables",
    "failfast": "not supported",
    "hbaping": "not supported",
    "hbgenmethod": "the generation counter is always kept in a file",
    "log_badpack": "bad frames are counted (twinbeat status) instead",
    "max_rexmit_delay": "twinbeat frames carry whole state; nothing is retransmitted",
    "mcast6": "IPv6 media are not supported",
    "ucast6": "IPv6 media are not supported",
    "ping6": "IPv6 ping nodes are not supported",
    "memreserve": "not needed",
    "msgfmt": "twinbeat has its own binary frame format",
    "normalpoll": "not needed",
    "rtprio": "realtime uses a fixed SCHED_FIFO priority",
    "stonith": "no STONITH support",
    "stonith_host": "no STONITH support",
    "syslogmsgfmt": "log lines have one fixed format",
    "traditional_compression": "frames are never compressed",
    "use_apphbd": "no apphbd",
    "uuidfrom": "nodes are known by name",
}

# Directives whose whole line is one argument list (not split on commas).
WHOLE_LINE = frozenset({"ucast", "mcast", "ping_group", "respawn", "apiauth", "stonith",
                        "stonith_host", "failfast"})

CRM_OFF = frozenset({"false", "off", "no", "n", "0"})


@dataclass(frozen=True, slots=True)
class HaCf:
    """What ha.cf says, defaults applied; `node_lines` maps each node to its line."""

    path: str
    nodes: tuple[str, ...]
    node_lines: dict[str, int]
    keepalive: float
    deadtime: float
    warntime: float
    initdead: float
    udpport: int
    baud: int
    links: tuple[Link, ...]
    auto_failback: str
    ping: tuple[str, ...]
    ping_groups: tuple[PingGroup, ...]
    logfile: str | None
    debugfile: str | None
    logfacility: str | None
    use_logd: bool | None
    realtime: bool
    watchdog: str | None
    hopfudge: int
    respawn: tuple[Respawn, ...]
    garp_count: int
    garp_interval: float


@dataclass(slots=True)
class _Builder:
    """Mutable state while reading ha.cf; one method per directive (see _DIRECTIVES)."""

    path: str
    report: Report
    nodes: dict[str, int] = field(default_factory=dict)
    times: dict[str, tuple[float, int]] = field(default_factory=dict)  # name -> (s, line)
    udpport: int = DEFAULT_UDPPORT
    baud: tuple[int, int] | None = None  # (rate, line)
    # media in ha.cf order: (link name, medium, line); ucast peers gathered per iface
    media: list[tuple[str, Medium, int]] = field(default_factory=list)
    ucast_peers: dict[str, list[str]] = field(default_factory=dict)
    auto_failback: str | None = None
    ping: list[str] = field(default_factory=list)
    ping_groups: list[PingGroup] = field(default_factory=list)
    logfile: str | None = None
    debugfile: str | None = None
    logfacility: str | None = None
    use_logd: bool | None = None
    realtime: bool = True
    watchdog: tuple[str, int] | None = None
    hopfudge: int = DEFAULT_HOPFUDGE
    respawn: list[Respawn] = field(default_factory=list)
    garp_count: int = DEFAULT_GARP_COUNT

    # -- helpers ------------------------------------------------------------------------

    def error(self, line: int, text: str) -> None:
        self.report.error(self.path, line, text)

    def warn(self, line: int, text: str) -> None:
        self.report.warn(self.path, line, text)

    def one(self, name: str, args: list[str], line: int) -> str | None:
        if len(args) != 1:
            self.error(line, f"{name}: takes exactly one value, got {len(args)}")
            return None
        return args[0]

    def add_medium(self, name: str, medium: Medium, line: int) -> None:
        """Add a link; link names must be unique because peers' links are keyed by name.

        heartbeat names a link after its interface even when two media share it; twinbeat
        keeps that name for the first and calls the next one `IFACE:KIND` (e.g.
        `eth0:mcast`), so such a file still works.
        """
        kind = type(medium).__name__.lower()
        for other_name, other, other_line in self.media:
            if other == medium:
                self.warn(line, f"{kind} {shown(name)}: same as line {other_line}; "
                                "duplicate ignored")
                return
            if other_name == name and type(other) is type(medium):
                self.error(line, f"{kind} {shown(name)}: a second {kind} link on the same "
                                 f"interface (line {other_line}); use one")
                return
        if any(other_name == name for other_name, _, _ in self.media):
            alias = f"{name}:{kind}"
            self.warn(line, f"{kind} {shown(name)}: another medium already uses this "
                            f"interface; this link is called {shown(alias)} (both fail "
                            "together with the NIC, so they are not redundant)")
            name = alias
        self.media.append((name, medium, line))

    # -- directives ---------------------------------------------------------------------

    def d_node(self, args: list[str], line: int) -> None:
        for token in args:
            name = token.lower()
            if not name.isprintable() or len(name.encode("utf-8", "surrogateescape")) > 255:
                self.error(line, f"node {shown(token)}: bad node name")
            elif name in self.nodes:
                self.warn(line, f"node {name}: already listed (line {self.nodes[name]})")
            else:
                self.nodes[name] = line

    def d_time(self, name: str, args: list[str], line: int) -> None:
        token = self.one(name, args, line)
        if token is None:
            return
        seconds = parse_time(token)
        if seconds is None:
            self.error(line, f"{name} {shown(token)}: {TIME_HINT}")
        elif seconds <= 0:
            self.error(line, f"{name} {shown(token)}: must be greater than 0")
        elif seconds > MAX_TIME:
            self.error(line, f"{name} {shown(token)}: longer than a day")
        else:
            self.times[name] = (seconds, line)

    def d_udpport(self, args: list[str], line: int) -> None:
        token = self.one("udpport", args, line)
        if token is None:
            return
        port = parse_int(token, 1, 65535)
        if port is None:
            self.error(line, f"udpport {shown(token)}: not a port number (1-65535)")
        else:
            self.udpport = port

    def d_baud(self, args: list[str], line: int) -> None:
        token = self.one("baud", args, line)
        if token is None:
            return
        if self.baud is not None:
            self.error(line, f"baud: given twice (line {self.baud[1]}; heartbeat: "
                             "Baudrate multiply specified)")
            return
        rate = parse_int(token, 1, 10**7)
        if rate not in BAUD_RATES:
            rates = ", ".join(str(r) for r in BAUD_RATES)
            self.error(line, f"baud {shown(token)}: invalid baudrate (use one of {rates})")
            return
        self.baud = (rate, line)

    def d_bcast(self, args: list[str], line: int) -> None:
        if not args:
            self.error(line, "bcast: needs at least one interface")
        for iface in args:
            if is_iface_name(iface):
                self.add_medium(iface, Bcast(iface), line)
            else:
                self.error(line, f"bcast {shown(iface)}: not an interface name")

    def d_udp(self, args: list[str], line: int) -> None:
        self.warn(line, "udp: old name of bcast; use bcast")
        self.d_bcast(args, line)

    def d_ucast(self, args: list[str], line: int) -> None:
        if len(args) != 2:
            self.error(line, "ucast: needs an interface and a peer address (ucast IFACE PEER)")
            return
        iface, peer = args
        ok = True
        if not is_iface_name(iface):
            self.error(line, f"ucast {shown(iface)}: not an interface name")
            ok = False
        address = parse_ipv4(peer)
        if address is None:
            self.error(line, f"ucast {shown(iface)} {shown(peer)}: peer must be an IPv4 "
                             "address (twinbeat does not resolve host names)")
            ok = False
        elif address.is_multicast or address.is_unspecified or peer == "255.255.255.255":
            self.error(line, f"ucast {shown(iface)} {peer}: not a unicast address")
            ok = False
        if not ok:
            return
        peers = self.ucast_peers.get(iface)
        if peers is None:
            self.ucast_peers[iface] = [str(address)]
            self.add_medium(iface, Ucast(iface, str(address)), line)
        elif str(address) in peers:
            self.warn(line, f"ucast {iface} {peer}: duplicate line ignored")
        else:
            peers.append(str(address))

    def d_mcast(self, args: list[str], line: int) -> None:
        if len(args) != 5:
            self.error(line, "mcast: needs five values (mcast IFACE GROUP PORT TTL LOOP)")
            return
        iface, group, port_t, ttl_t, loop_t = args
        problems = []
        if not is_iface_name(iface):
            problems.append(f"{shown(iface)} is not an interface name")
        address = parse_ipv4(group)
        if address is None or not address.is_multicast:
            problems.append(f"group {shown(group)} is not in 224.0.0.0/4")
        port = parse_int(port_t, 1, 65535)
        if port is None:
            problems.append(f"port {shown(port_t)} is not 1-65535")
        ttl = parse_int(ttl_t, 0, 4)
        if ttl is None:
            problems.append(f"bad ttl {shown(ttl_t)} (0-4)")
        loop = parse_int(loop_t, 0, 1)
        if loop is None:
            problems.append(f"loop {shown(loop_t)} must be 0 or 1")
        if problems:
            self.error(line, "mcast: " + "; ".join(problems))
            return
        assert port is not None and ttl is not None and address is not None
        self.add_medium(iface, Mcast(iface, str(address), port, ttl, bool(loop)), line)

    def d_serial(self, args: list[str], line: int) -> None:
        if not args:
            self.error(line, "serial: needs at least one device path")
        for device in args:
            if device.startswith("/") and device.isprintable() and len(device) > 1:
                self.add_medium(device, Serial(device), line)
            else:
                self.error(line, f"serial {shown(device)}: device must be an absolute path")

    def d_auto_failback(self, args: list[str], line: int) -> None:
        token = self.one("auto_failback", args, line)
        if token is None:
            return
        if token.lower() == "legacy":
            self.auto_failback = "legacy"
            return
        value = parse_bool(token)
        if value is None:
            self.error(line, f"auto_failback {shown(token)}: use on, off or legacy")
        else:
            self.auto_failback = "on" if value else "off"

    def d_nice_failback(self, args: list[str], line: int) -> None:
        # Obsolete spelling; `nice_failback on` meant "do not fail back" (auto_failback off).
        token = self.one("nice_failback", args, line)
        if token is None:
            return
        value = parse_bool(token)
        if value is None:
            self.error(line, f"nice_failback {shown(token)}: use on or off")
            return
        replacement = "off" if value else "legacy"
        self.warn(line, f"nice_failback is obsolete; read as auto_failback {replacement}")
        self.auto_failback = replacement

    def d_ping(self, args: list[str], line: int) -> None:
        if not args:
            self.error(line, "ping: needs at least one host")
        for host in args:
            if host.isprintable():
                self.ping.append(host)
            else:
                self.error(line, f"ping {shown(host)}: bad host")

    def d_ping_group(self, args: list[str], line: int) -> None:
        if len(args) < 2:
            self.error(line, "ping_group: needs a name and at least one host")
            return
        name, *hosts = args
        if any(g.name == name for g in self.ping_groups):
            self.error(line, f"ping_group {shown(name)}: defined twice")
            return
        self.ping_groups.append(PingGroup(name, tuple(hosts)))

    def d_path(self, name: str, args: list[str], line: int) -> None:
        token = self.one(name, args, line)
        if token is not None:
            setattr(self, name, token)

    def d_logfacility(self, args: list[str], line: int) -> None:
        token = self.one("logfacility", args, line)
        if token is None:
            return
        facility = token.lower()
        if facility == "none":  # heartbeat: no syslog
            self.logfacility = None
        elif facility in SYSLOG_FACILITIES:
            self.logfacility = facility
        else:
            self.error(line, f"logfacility {shown(token)}: not a syslog facility "
                             "(daemon, local0...local7, ...)")

    def d_use_logd(self, args: list[str], line: int) -> None:
        token = self.one("use_logd", args, line)
        if token is None:
            return
        value = parse_bool(token)
        if value is None:
            self.error(line, f"use_logd {shown(token)}: use yes or no")
            return
        self.use_logd = value
        if value:
            self.warn(line, "use_logd: twinbeat has no logd; it logs per logfile/debugfile/"
                            "logfacility, or to stderr (the journal) without them")

    def d_realtime(self, args: list[str], line: int) -> None:
        token = self.one("realtime", args, line)
        if token is None:
            return
        value = parse_bool(token)
        if value is None:
            self.error(line, f"realtime {shown(token)}: use on or off")
        else:
            self.realtime = value

    def d_watchdog(self, args: list[str], line: int) -> None:
        token = self.one("watchdog", args, line)
        if token is None:
            return
        if self.watchdog is not None:
            self.error(line, f"watchdog: given twice (line {self.watchdog[1]})")
        elif not token.startswith("/"):
            self.error(line, f"watchdog {shown(token)}: device must be an absolute path")
        else:
            self.watchdog = (token, line)

    def d_hopfudge(self, args: list[str], line: int) -> None:
        token = self.one("hopfudge", args, line)
        if token is None:
            return
        value = parse_int(token, 0, 255)
        if value is None:
            self.error(line, f"hopfudge {shown(token)}: must be 0-255")
        else:
            self.hopfudge = value

    def d_respawn(self, args: list[str], line: int) -> None:
        if len(args) < 2:
            self.error(line, "respawn: needs a user and an absolute command path")
            return
        user, *command = args
        if not command[0].startswith("/"):
            self.error(line, f"respawn: client child command {shown(command[0])} is not a "
                             "full pathname")
            return
        self.respawn.append(Respawn(user, tuple(command)))
        # Parsed so a heartbeat file loads, but not run: ipfail, the usual client, is replaced
        # by the ping-node guard, and an admin must not believe the child is being kept alive.
        self.warn(line, f"respawn: twinbeat does not start respawn children; "
                        f"{shown(command[0])} will not run (ping nodes replace ipfail)")

    def d_garp_count(self, args: list[str], line: int) -> None:
        token = self.one("garp_count", args, line)
        if token is None:
            return
        value = parse_int(token, 1, MAX_GARP_COUNT)
        if value is None:
            self.error(line, f"garp_count {shown(token)}: must be 1-{MAX_GARP_COUNT}")
        else:
            self.garp_count = value

    def d_crm(self, args: list[str], line: int) -> None:
        token = self.one("crm", args, line)
        if token is None:
            return
        if token.lower() not in CRM_OFF:
            self.error(line, f"crm {shown(token)}: this needs Pacemaker; twinbeat manages "
                             "haresources groups only (use crm off or remove the line)")

    def d_autojoin(self, args: list[str], line: int) -> None:
        token = self.one("autojoin", args, line)
        if token is not None and token.lower() != "none":
            self.error(line, f"autojoin {shown(token)}: haresources needs autojoin none "
                             "(heartbeat: R1 style resource management conflicts with autojoin)")


def _time(name: str) -> Callable[[_Builder, list[str], int], None]:
    return lambda b, args, line: b.d_time(name, args, line)


def _path(name: str) -> Callable[[_Builder, list[str], int], None]:
    return lambda b, args, line: b.d_path(name, args, line)


_DIRECTIVES: dict[str, Callable[[_Builder, list[str], int], None]] = {
    "node": _Builder.d_node,
    "keepalive": _time("keepalive"),
    "deadtime": _time("deadtime"),
    "warntime": _time("warntime"),
    "initdead": _time("initdead"),
    "udpport": _Builder.d_udpport,
    "baud": _Builder.d_baud,
    "bcast": _Builder.d_bcast,
    "udp": _Builder.d_udp,
    "ucast": _Builder.d_ucast,
    "mcast": _Builder.d_mcast,
    "serial": _Builder.d_serial,
    "auto_failback": _Builder.d_auto_failback,
    "nice_failback": _Builder.d_nice_failback,
    "ping": _Builder.d_ping,
    "ping_group": _Builder.d_ping_group,
    "logfile": _path("logfile"),
    "debugfile": _path("debugfile"),
    "logfacility": _Builder.d_logfacility,
    "use_logd": _Builder.d_use_logd,
    "realtime": _Builder.d_realtime,
    "watchdog": _Builder.d_watchdog,
    "hopfudge": _Builder.d_hopfudge,
    "respawn": _Builder.d_respawn,
    "crm": _Builder.d_crm,
    "pacemaker": _Builder.d_crm,
    "autojoin": _Builder.d_autojoin,
    # twinbeat's own (docs/config.md); heartbeat's IPaddr had these as fixed script settings.
    "garp_count": _Builder.d_garp_count,
    "garp_interval": _time("garp_interval"),
}


def parse_hacf(lines: Lines, path: str, report: Report) -> HaCf:
    """Read ha.cf lines; problems go to `report`. Always returns a (maybe partial) HaCf."""
    b = _Builder(path, report)
    for number, text in lines:
        body = strip_comment(text)
        tokens = fields(body)
        if not tokens:
            continue
        directive = tokens[0].lower()
        args = words(body)[1:] if directive in WHOLE_LINE else tokens[1:]
        handler = _DIRECTIVES.get(directive)
        if handler is not None:
            handler(b, args, number)
        elif directive in IGNORED:
            b.warn(number, f"{directive}: ignored by twinbeat ({IGNORED[directive]})")
        else:
            b.error(number, f"{shown(tokens[0])}: unknown directive (heartbeat: "
                            "Illegal directive)")
    return _finish(b)


def _finish(b: _Builder) -> HaCf:
    """Defaults and the ha.cf-only validation rules (heartbeat config.c: init_config)."""
    keepalive, keepalive_line = b.times.get("keepalive", (DEFAULT_KEEPALIVE, 0))
    deadtime, deadtime_line = b.times.get("deadtime", (DEFAULT_DEADTIME, 0))
    if deadtime <= 2 * keepalive:
        b.error(deadtime_line or keepalive_line,
                f"deadtime {deadtime:g}s must be more than twice keepalive {keepalive:g}s")
    warntime, warntime_line = b.times.get("warntime", (deadtime / 2, 0))
    if warntime_line and warntime >= deadtime:
        b.warn(warntime_line, f"warntime {warntime:g}s is not less than deadtime "
                              f"{deadtime:g}s; late heartbeats will not be reported")
    elif warntime_line and warntime <= keepalive:
        b.warn(warntime_line, f"warntime {warntime:g}s is not more than keepalive "
                              f"{keepalive:g}s; every heartbeat will look late")
    # initdead: heartbeat derives it from deadtime when not given.
    if deadtime > 10:
        derived = deadtime
    elif deadtime < 6:
        derived = 12.0
    else:
        derived = 2 * deadtime
    initdead, initdead_line = b.times.get("initdead", (derived, 0))
    if initdead < deadtime:
        b.error(initdead_line, f"initdead {initdead:g}s is smaller than deadtime {deadtime:g}s")
    elif initdead_line and initdead < 10:
        b.warn(initdead_line, f"initdead {initdead:g}s is short: a peer that boots more "
                              "slowly will be declared dead (10 s or more recommended)")

    if not b.nodes:
        b.error(0, "no nodes defined (add `node NAME` lines for both nodes)")
    if not b.media:
        b.error(0, "no heartbeat media defined (add bcast, ucast, mcast or serial)")

    auto_failback = b.auto_failback or "legacy"
    if auto_failback == "legacy":
        b.warn(0, "auto_failback legacy (the default) is deprecated; treated as "
                  "auto_failback on")

    udp = [(n, m, line) for n, m, line in b.media if not isinstance(m, Serial)]
    serial = [(n, m, line) for n, m, line in b.media if isinstance(m, Serial)]
    if len(udp) > MAX_UDP_LINKS:
        b.error(udp[MAX_UDP_LINKS][2], f"more than {MAX_UDP_LINKS} UDP links")
    if len(serial) > MAX_SERIAL_LINKS:
        b.error(serial[MAX_SERIAL_LINKS][2], f"more than {MAX_SERIAL_LINKS} serial links")
    links: list[Link] = []
    for index, (name, medium, _) in enumerate(udp[:MAX_UDP_LINKS]):
        if isinstance(medium, Ucast):  # now that every ucast line for the iface is known
            peers = tuple(b.ucast_peers[medium.iface])
            links.append(Link(name, index, Ucast(medium.iface, peers[0], peers)))
        else:
            links.append(Link(name, index, medium))
    for index, (name, medium, _) in enumerate(serial[:MAX_SERIAL_LINKS]):
        links.append(Link(name, SERIAL_LINK_ID_BASE + index, medium))
    if not serial and b.baud is not None:
        b.warn(b.baud[1], "baud: no serial links to apply it to")

    return HaCf(
        path=b.path,
        nodes=tuple(b.nodes),
        node_lines=dict(b.nodes),
        keepalive=keepalive,
        deadtime=deadtime,
        warntime=warntime,
        initdead=initdead,
        udpport=b.udpport,
        baud=b.baud[0] if b.baud else DEFAULT_BAUD,
        links=tuple(links),
        auto_failback=auto_failback,
        ping=tuple(b.ping),
        ping_groups=tuple(b.ping_groups),
        logfile=b.logfile,
        debugfile=b.debugfile,
        logfacility=b.logfacility,
        use_logd=b.use_logd,
        realtime=b.realtime,
        watchdog=b.watchdog[0] if b.watchdog else None,
        hopfudge=b.hopfudge,
        respawn=tuple(b.respawn),
        garp_count=b.garp_count,
        garp_interval=b.times.get("garp_interval", (DEFAULT_GARP_INTERVAL, 0))[0],
    )
