"""The rules that need all of ha.cf, and the typed `HaCf` they produce.

Owns heartbeat's whole-file checks (config.c `init_config`, reference §4 and §7.2): the
timer relations and initdead's derived default, "at least one node" and "at least one
medium", the legacy auto_failback warning, and a `baud` with nothing to apply to. The
per-directive checks are the directive table's (hacf.py); the cross-file ones the loader's.
"""

from __future__ import annotations

from twinbeat.config import hacf_settings as s
from twinbeat.config.fencing import fencing_of
from twinbeat.config.hacf_state import HaCfState
from twinbeat.config.media import links
from twinbeat.config.model import AutoFailback, HaCf, Serial
from twinbeat.config.monitoring import monitoring

Timers = tuple[float, float, float, float]  # keepalive, deadtime, warntime, initdead


def finish(state: HaCfState) -> HaCf:
    """Defaults and the ha.cf-only validation rules; always returns a (maybe partial) HaCf."""
    keepalive, deadtime, warntime, initdead = _timers(state)
    if not state.nodes:
        state.error(0, "no nodes defined (add `node NAME` lines for both nodes)")
    if not state.media:
        state.error(0, "no heartbeat media defined (add bcast, ucast, mcast or serial)")
    auto_failback = state.value(s.AUTO_FAILBACK, AutoFailback.LEGACY)
    if auto_failback is AutoFailback.LEGACY:
        state.warn(0, "auto_failback legacy (the default) is deprecated; treated as "
                      "auto_failback on")
    baud = state.given(s.BAUD)
    if baud is not None and not any(isinstance(m, Serial) for _, m, _ in state.media):
        state.warn(baud[1], "baud: no serial links to apply it to")
    return HaCf(
        nodes=tuple(state.nodes),
        keepalive=keepalive,
        deadtime=deadtime,
        warntime=warntime,
        initdead=initdead,
        udpport=state.value(s.UDPPORT, s.DEFAULT_UDPPORT),
        baud=baud[0] if baud is not None else s.DEFAULT_BAUD,
        links=links(state),
        auto_failback=auto_failback,
        ping=tuple(state.ping),
        ping_groups=tuple(state.ping_groups),
        logfile=state.value(s.LOGFILE, None),
        debugfile=state.value(s.DEBUGFILE, None),
        logfacility=state.value(s.LOGFACILITY, None),
        realtime=state.value(s.REALTIME, True),
        watchdog=state.value(s.WATCHDOG, None),
        garp_count=state.value(s.GARP_COUNT, s.DEFAULT_GARP_COUNT),
        garp_interval=state.value(s.GARP_INTERVAL, s.DEFAULT_GARP_INTERVAL),
        monitoring=monitoring(state),
        fencing=fencing_of(state),
        peer_protocol=state.value(s.PEER_PROTOCOL, "auto"),
        respawn=tuple(state.respawn),
        metrics=tuple(state.metrics),
    )


def _timers(state: HaCfState) -> Timers:
    keepalive, keepalive_line = state.given(s.KEEPALIVE) or (s.DEFAULT_KEEPALIVE, 0)
    deadtime, deadtime_line = state.given(s.DEADTIME) or (s.DEFAULT_DEADTIME, 0)
    if deadtime <= 2 * keepalive:
        state.error(deadtime_line or keepalive_line,
                    f"deadtime {deadtime:g}s must be more than twice keepalive {keepalive:g}s")
    warntime, warntime_line = state.given(s.WARNTIME) or (deadtime / 2, 0)
    if warntime_line and warntime >= deadtime:
        state.warn(warntime_line, f"warntime {warntime:g}s is not less than deadtime "
                                  f"{deadtime:g}s; late heartbeats will not be reported")
    elif warntime_line and warntime <= keepalive:
        state.warn(warntime_line, f"warntime {warntime:g}s is not more than keepalive "
                                  f"{keepalive:g}s; every heartbeat will look late")
    initdead, initdead_line = state.given(s.INITDEAD) or (_derived_initdead(deadtime), 0)
    if initdead < deadtime:
        state.error(initdead_line,
                    f"initdead {initdead:g}s is smaller than deadtime {deadtime:g}s")
    elif initdead_line and initdead < 10:
        state.warn(initdead_line, f"initdead {initdead:g}s is short: a peer that boots more "
                                  "slowly will be declared dead (10 s or more recommended)")
    return keepalive, deadtime, warntime, initdead


def _derived_initdead(deadtime: float) -> float:
    """heartbeat derives initdead from deadtime when it is not given."""
    if deadtime > 10:
        return deadtime
    if deadtime < 6:
        return 12.0
    return 2 * deadtime
