"""ha.cf's single-valued directives as typed `Setting`s, and heartbeat's defaults for them.

Each `Setting` names the directive, the reader for its kind of value (readers.py) and
whether a second line is an error; the problem texts are the ones `twinbeat check` prints.
Defaults: heartbeat config.c `init_config` (reference §4 and §7.2), plus twinbeat's own
GARP settings. The directive table (hacf.py) installs these; hacf_finish.py reads them.
"""

from __future__ import annotations

from twinbeat.config.model import AutoFailback, FenceAction
from twinbeat.config.readers import (
    Setting,
    absolute_path,
    any_token,
    boolean,
    int_choice,
    integer,
    time_at_least,
    time_or_zero,
    time_value,
    word,
)
from twinbeat.config.values import FALSE_WORDS, TRUE_WORDS

DEFAULT_KEEPALIVE = 1.0
DEFAULT_DEADTIME = 30.0
DEFAULT_UDPPORT = 694
DEFAULT_BAUD = 19200
# Gratuitous ARPs after acquiring an address: heartbeat's IPaddr sends 10, 500 ms apart.
DEFAULT_GARP_COUNT = 10
DEFAULT_GARP_INTERVAL = 0.5
MAX_GARP_COUNT = 100
# config.c: StringToBaud
BAUD_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800)
SYSLOG_FACILITIES = frozenset(
    {"auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog",
     "user", "uucp"} | {f"local{n}" for n in range(8)}
)

# The keepalive floor (docs/config.md): the `fast` lab preset's 10 ms, keepalived's minimum
# advert_int. Below it heartbeats only burn CPU and wire (a 1us keepalive was accepted once).
MIN_KEEPALIVE = 0.010
KEEPALIVE = Setting(
    "keepalive",
    time_at_least(MIN_KEEPALIVE, "below the 10ms floor (heartbeats that often serve no purpose)"),
)
DEADTIME = Setting("deadtime", time_value)
WARNTIME = Setting("warntime", time_value)
INITDEAD = Setting("initdead", time_value)
UDPPORT = Setting("udpport", integer(1, 65535, "not a port number (1-65535)"))
BAUD = Setting(
    "baud",
    int_choice(BAUD_RATES, "invalid baudrate (use one of "
                           + ", ".join(str(r) for r in BAUD_RATES) + ")"),
    once=True,
    once_note="; heartbeat: Baudrate multiply specified",
)
AUTO_FAILBACK = Setting(
    "auto_failback",
    word({"legacy": AutoFailback.LEGACY}
         | dict.fromkeys(TRUE_WORDS, AutoFailback.ON)
         | dict.fromkeys(FALSE_WORDS, AutoFailback.OFF),
         "use on, off or legacy"),
)
LOGFILE = Setting("logfile", any_token)
DEBUGFILE = Setting("debugfile", any_token)
LOGFACILITY: Setting[str | None] = Setting(
    "logfacility",
    # `none` is heartbeat's "no syslog"
    word({"none": None} | {f: f for f in SYSLOG_FACILITIES},
         "not a syslog facility (daemon, local0...local7, ...)"),
)
REALTIME = Setting("realtime", boolean("use on or off"))
WATCHDOG = Setting("watchdog", absolute_path("device must be an absolute path"), once=True)
# twinbeat's own (docs/config.md); heartbeat's IPaddr had these as fixed script settings.
GARP_COUNT = Setting("garp_count", integer(1, MAX_GARP_COUNT, f"must be 1-{MAX_GARP_COUNT}"))
GARP_INTERVAL = Setting("garp_interval", time_value)
# twinbeat's own fencing settings (config/fencing.py, docs/fencing.md).
FENCE_DELAY = Setting("fence_delay", time_or_zero, once=True)
FENCE_TIMEOUT = Setting("fence_timeout", time_value, once=True)
FENCE_ACTION = Setting(
    "fence_action",
    # heartbeat's stonith reset is a reboot
    word({"reboot": FenceAction.REBOOT, "reset": FenceAction.REBOOT, "off": FenceAction.OFF},
         "use reboot or off"),
    once=True,
)
