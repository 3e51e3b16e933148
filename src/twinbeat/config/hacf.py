"""ha.cf: heartbeat 3.0.6's main configuration file -> `HaCf` (no cross-file checks).

Owns the directive table: each directive maps to a handler, and every single-valued one
is just its typed `Setting` (hacf_settings.py: a reader per kind of value, keepalived's
keyword-table style). Directives heartbeat knows but twinbeat does not act on are listed in
`IGNORED` with the reason each costs a warning. The media are media.py's, the whole-file
rules hacf_finish.py's; the local-node check and everything involving authkeys or
haresources are the loader's. Every problem is reported with its file and line and parsing
goes on, so that `twinbeat check` can show all of them at once.

Departures from heartbeat, all of them lenient (a heartbeat two-node file never breaks):
- `udpport` and `baud` apply to every link wherever they appear (heartbeat needs them
  before the media lines);
- directives heartbeat knows but twinbeat does not act on are accepted with a warning;
- several `ucast` lines on one interface are one link (see model.Ucast).
Stricter than heartbeat, because the wire cannot carry more (limits.py): node names are
1-64 printable ASCII characters, and a third node is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TypeVar

from twinbeat.config import fencing, media, metrics, respawn
from twinbeat.config import hacf_settings as s
from twinbeat.config import monitoring as mon
from twinbeat.config.hacf_finish import finish
from twinbeat.config.hacf_state import HaCfState
from twinbeat.config.limits import MAX_NODE_NAME, MAX_NODES, is_wire_name
from twinbeat.config.messages import Report, shown
from twinbeat.config.model import AutoFailback, HaCf, PingGroup
from twinbeat.config.readers import Invalid, Setting, boolean, integer, word
from twinbeat.config.source import Lines, fields, strip_comment, words
from twinbeat.config.values import FALSE_WORDS

Handler = Callable[[HaCfState, list[str], int], None]
T = TypeVar("T")

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
    "env": "respawned programs get no HA_ variables",
    "failfast": "not supported",
    "hbaping": "not supported",
    "hbgenmethod": "the generation counter is always kept in a file",
    "log_badpack": "bad frames are counted (twinbeat status) instead",
    "max_rexmit_delay": "twinbeat frames carry whole state; a heartbeat peer is asked "
                        "again every 250 ms, heartbeat's default",
    "memreserve": "not needed",
    "msgfmt": "twinbeat has its own binary frame format; to a heartbeat peer it sends "
              "heartbeat's default (classic)",
    "normalpoll": "not needed",
    "rtprio": "realtime uses a fixed SCHED_FIFO priority",
    "syslogmsgfmt": "log lines have one fixed format",
    "traditional_compression": "frames are never compressed",
    "use_apphbd": "no apphbd",
    "uuidfrom": "nodes are known by name",
}

# Directives whose whole line is one argument list (not split on commas).
WHOLE_LINE = frozenset({"ucast", "mcast", "ping_group", "respawn", "apiauth", "stonith",
                        "stonith_host", "failfast", "monitor", "fence"})

BAD_NODE_NAME = (f"bad node name (1-{MAX_NODE_NAME} printable ASCII characters, no spaces: "
                 "the wire's limit)")
THIRD_NODE = ("twinbeat runs two-node clusters (the wire carries one peer); for three or "
              "more nodes move to Pacemaker/Corosync (docs/migrating.md)")

# Parsed and checked so a heartbeat file loads, but not stored: nothing acts on them.
_HOPFUDGE = integer(0, 255, "must be 0-255")  # two nodes need no hops
_USE_LOGD = boolean("use yes or no")
_CRM = word(dict.fromkeys(FALSE_WORDS, True),
            "this needs Pacemaker; twinbeat manages haresources groups only (use crm off or "
            "remove the line)")
_AUTOJOIN = word({"none": True},
                 "haresources needs autojoin none (heartbeat: R1 style resource management "
                 "conflicts with autojoin)")
_NICE_FAILBACK = boolean("use on or off")


def d_node(state: HaCfState, args: list[str], line: int) -> None:
    for token in args:
        name = token.lower()
        if not is_wire_name(name):
            state.error(line, f"node {shown(token)}: {BAD_NODE_NAME}")
        elif name in state.nodes:
            state.warn(line, f"node {name}: already listed (line {state.nodes[name]})")
        elif len(state.nodes) >= MAX_NODES:
            state.error(line, f"node {name}: {THIRD_NODE}")
        else:
            state.nodes[name] = line


def d_nice_failback(state: HaCfState, args: list[str], line: int) -> None:
    # Obsolete spelling; `nice_failback on` meant "do not fail back" (auto_failback off).
    value = state.read("nice_failback", _NICE_FAILBACK, args, line)
    if isinstance(value, Invalid):
        return
    replacement = AutoFailback.OFF if value else AutoFailback.LEGACY
    state.warn(line, f"nice_failback is obsolete; read as auto_failback {replacement.value}")
    state.put(s.AUTO_FAILBACK, replacement, line)


def d_ping(state: HaCfState, args: list[str], line: int, name: str = "ping") -> None:
    # `ping6` (heartbeat's ICMPv6 plugin) is the same directive: hosts of either family are
    # pinged over ICMP or ICMPv6 (links/pinger.py, docs/ping.md).
    if not args:
        state.error(line, f"{name}: needs at least one host")
    for host in args:
        problem = ping_host_problem(host)
        if problem is None:
            state.ping.append(host)
        else:
            state.error(line, f"{name} {shown(host)}: {problem}")


def d_ping6(state: HaCfState, args: list[str], line: int) -> None:
    d_ping(state, args, line, "ping6")


def d_ping_group(state: HaCfState, args: list[str], line: int) -> None:
    if len(args) < 2:
        state.error(line, "ping_group: needs a name and at least one host")
        return
    name, *hosts = args
    if any(g.name == name for g in state.ping_groups):
        state.error(line, f"ping_group {shown(name)}: defined twice")
        return
    problems = [(host, ping_host_problem(host)) for host in hosts]
    for host, problem in problems:
        if problem is not None:
            state.error(line, f"ping_group {shown(host)}: {problem}")
    if all(problem is None for _, problem in problems):
        state.ping_groups.append(PingGroup(name, tuple(hosts)))


def ping_host_problem(host: str) -> str | None:
    """Why `host` cannot be a ping host, or None. A token that looks like an address must be
    one: a typo such as 198.18.1.300 would otherwise be looked up as a name at run time, fail
    for ever and count as a dead ping node. A link-local IPv6 address exists once per
    interface, so it needs one (`fe80::1%eth0`)."""
    if not host.isprintable():
        return "bad host"
    if ":" in host:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return "bad IPv6 address"
        if address.is_link_local and not address.scope_id:
            return f"a link-local IPv6 address needs its interface ({host}%eth0)"
        return None
    if all(ch.isdigit() or ch == "." for ch in host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return "bad IPv4 address"
    return None


def d_ipv6_medium(state: HaCfState, args: list[str], line: int, name: str) -> None:
    # Refused, never ignored: a cluster whose only dedicated link was an IPv6 one would
    # otherwise start with one link fewer than the admin believes (docs/config.md).
    state.error(line, f"{name}: IPv6 heartbeat media are not supported; use bcast, ucast or "
                      "mcast over IPv4 on the same interface, or serial")


def d_use_logd(state: HaCfState, args: list[str], line: int) -> None:
    if state.read("use_logd", _USE_LOGD, args, line) is True:
        state.warn(line, "use_logd: twinbeat has no logd; it logs per logfile/debugfile/"
                         "logfacility, or to stderr (the journal) without them")


def d_respawn(state: HaCfState, args: list[str], line: int) -> None:
    parsed = respawn.parse_respawn(args, line)
    if isinstance(parsed, str):
        state.error(line, parsed)
        return
    not_run = respawn.heartbeat_client(parsed)
    if not_run is not None:
        state.warn(line, not_run)
        return
    state.respawn.append(parsed)


def _setting(setting: Setting[T]) -> Handler:
    """The handler of a single-valued directive: read one value of its kind, keep it."""

    def handle(state: HaCfState, args: list[str], line: int) -> None:
        state.set(setting, args, line)

    return handle


def _checked(name: str, reader: Callable[[str], T | Invalid]) -> Handler:
    """The handler of a directive whose one value is checked, then not needed."""

    def handle(state: HaCfState, args: list[str], line: int) -> None:
        state.read(name, reader, args, line)

    return handle


DIRECTIVES: dict[str, Handler] = {
    "node": d_node,
    "keepalive": _setting(s.KEEPALIVE),
    "deadtime": _setting(s.DEADTIME),
    "warntime": _setting(s.WARNTIME),
    "initdead": _setting(s.INITDEAD),
    "udpport": _setting(s.UDPPORT),
    "baud": _setting(s.BAUD),
    "bcast": media.d_bcast,
    "udp": media.d_udp,
    "ucast": media.d_ucast,
    "mcast": media.d_mcast,
    "ucast6": lambda state, args, line: d_ipv6_medium(state, args, line, "ucast6"),
    "mcast6": lambda state, args, line: d_ipv6_medium(state, args, line, "mcast6"),
    "serial": media.d_serial,
    "auto_failback": _setting(s.AUTO_FAILBACK),
    "nice_failback": d_nice_failback,
    "ping": d_ping,
    "ping6": d_ping6,
    "ping_group": d_ping_group,
    "logfile": _setting(s.LOGFILE),
    "debugfile": _setting(s.DEBUGFILE),
    "logfacility": _setting(s.LOGFACILITY),
    "use_logd": d_use_logd,
    "realtime": _setting(s.REALTIME),
    "watchdog": _setting(s.WATCHDOG),
    "hopfudge": _checked("hopfudge", _HOPFUDGE),
    "respawn": d_respawn,
    "crm": _checked("crm", _CRM),
    "pacemaker": _checked("crm", _CRM),
    "autojoin": _checked("autojoin", _AUTOJOIN),
    "garp_count": _setting(s.GARP_COUNT),
    "garp_interval": _setting(s.GARP_INTERVAL),
    # twinbeat's own: resource monitoring (config/monitoring.py)
    "monitor_interval": _setting(mon.MONITOR_INTERVAL),
    "monitor_timeout": _setting(mon.MONITOR_TIMEOUT),
    "migration_threshold": _setting(mon.MIGRATION_THRESHOLD),
    "failure_timeout": _setting(mon.FAILURE_TIMEOUT),
    "monitor": mon.d_monitor,
    "stonith": fencing.d_stonith,
    "stonith_host": fencing.d_stonith_host,
    "fence": fencing.d_fence,
    "fence_delay": _setting(s.FENCE_DELAY),
    "fence_timeout": _setting(s.FENCE_TIMEOUT),
    "fence_action": _setting(s.FENCE_ACTION),
    "peer_protocol": _setting(s.PEER_PROTOCOL),
    # twinbeat's own: the Prometheus endpoint (config/metrics.py, docs/metrics.md)
    "metrics": metrics.d_metrics,
}


def parse_hacf(lines: Lines, path: str, report: Report) -> HaCf:
    """Read ha.cf lines; problems go to `report`. Always returns a (maybe partial) HaCf."""
    state = HaCfState(path, report)
    for number, text in lines:
        body = strip_comment(text)
        tokens = fields(body)
        if not tokens:
            continue
        directive = tokens[0].lower()
        args = words(body)[1:] if directive in WHOLE_LINE else tokens[1:]
        handler = DIRECTIVES.get(directive)
        if handler is not None:
            handler(state, args, number)
        elif directive in IGNORED:
            state.warn(number, f"{directive}: ignored by twinbeat ({IGNORED[directive]})")
        else:
            state.error(number, f"{shown(tokens[0])}: unknown directive (heartbeat: "
                                "Illegal directive)")
    return finish(state)
