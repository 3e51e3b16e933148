"""ha.cf's monitoring directives (twinbeat's own) -> `Monitoring`.

heartbeat v1 never checked a resource after starting it: a crashed apache stayed crashed on
a node that kept its VIP. twinbeat checks every resource of a held group (docs/resources.md)
and these directives tune it:

    monitor_interval 5            # seconds between checks of one resource (or `off`)
    monitor_timeout 20            # a check that takes longer is killed and counts as failed
    monitor RESOURCE [interval=T] [timeout=T] [off]   # one resource, written as in haresources
    migration_threshold 3         # failures on this node before the group moves to the peer
    failure_timeout 600           # a failure older than this no longer counts

Times are ha.cf times (`5`, `500ms`). `monitor` names a resource by its haresources text, so
its line is not split on commas (a resource text may hold one); whether that resource exists
is a cross-file check (`unknown_monitored`, called by the loader). Owns the settings'
readers, defaults and floors; the model is model.Monitoring.
"""

from __future__ import annotations

from twinbeat.config.hacf_state import HaCfState
from twinbeat.config.messages import Report, shown
from twinbeat.config.model import Group, Monitoring, MonitorOverride
from twinbeat.config.readers import Invalid, Setting, integer, time_at_least, time_value

DEFAULT_INTERVAL = 5.0
DEFAULT_TIMEOUT = 20.0  # Pacemaker's default op timeout, and most OCF agents' monitor advice
DEFAULT_MIGRATION_THRESHOLD = 3
DEFAULT_FAILURE_TIMEOUT = 600.0
# Each check forks a program and a failure costs a restart: below a second buys nothing next
# to a service's own start time, and would let a typo (`1ms`) fork a thousand times a second.
MIN_INTERVAL = 1.0
MAX_MIGRATION_THRESHOLD = 1000
OFF = "off"

_interval = time_at_least(MIN_INTERVAL, "below the 1 s floor (each check runs a program)")


def _interval_or_off(token: str) -> float | Invalid | None:
    return None if token.lower() == OFF else _interval(token)


MONITOR_INTERVAL: Setting[float | None] = Setting("monitor_interval", _interval_or_off)
MONITOR_TIMEOUT = Setting("monitor_timeout", time_value)
MIGRATION_THRESHOLD = Setting(
    "migration_threshold",
    integer(1, MAX_MIGRATION_THRESHOLD, f"must be 1-{MAX_MIGRATION_THRESHOLD}"))
FAILURE_TIMEOUT = Setting("failure_timeout", time_value)
_MONITOR_HINT = "interval=T, timeout=T or off"


def d_monitor(state: HaCfState, args: list[str], line: int) -> None:
    """`monitor RESOURCE [interval=T] [timeout=T] [off]`."""
    if len(args) < 2:
        state.error(line, f"monitor: needs a resource (as written in haresources) and "
                          f"{_MONITOR_HINT}")
        return
    resource, *settings = args
    name = f"monitor {shown(resource)}"
    earlier = next((o.line for o in state.monitors if o.resource == resource), None)
    if earlier is not None:
        state.error(line, f"{name}: already set (line {earlier})")
        return
    read = _monitor_settings(settings)
    if isinstance(read, Invalid):
        state.error(line, f"{name}: {read.problem}")
        return
    interval, timeout, off = read
    state.monitors.append(MonitorOverride(resource, interval, timeout, off, line))


def _monitor_settings(settings: list[str]) -> tuple[float | None, float | None, bool] | Invalid:
    values: dict[str, float] = {}
    off = False
    for token in settings:
        if token.lower() == OFF:
            off = True
            continue
        key, eq, value = token.partition("=")
        key = key.lower()
        if not eq or key not in ("interval", "timeout"):
            return Invalid(f"{shown(token)}: not {_MONITOR_HINT}")
        if key in values:
            return Invalid(f"{key} given twice")
        seconds = (_interval if key == "interval" else time_value)(value)
        if isinstance(seconds, Invalid):
            return Invalid(f"{key}={shown(value)}: {seconds.problem}")
        values[key] = seconds
    if off and "interval" in values:
        return Invalid("off and interval= contradict each other")
    return values.get("interval"), values.get("timeout"), off


def monitoring(state: HaCfState) -> Monitoring:
    """The settings ha.cf gave, defaults for the rest (hacf_finish.py calls this)."""
    return Monitoring(
        interval=state.value(MONITOR_INTERVAL, DEFAULT_INTERVAL),
        timeout=state.value(MONITOR_TIMEOUT, None),
        overrides=tuple(state.monitors),
        migration_threshold=state.value(MIGRATION_THRESHOLD, DEFAULT_MIGRATION_THRESHOLD),
        failure_timeout=state.value(FAILURE_TIMEOUT, DEFAULT_FAILURE_TIMEOUT),
    )


def unknown_monitored(monitoring: Monitoring, groups: tuple[Group, ...], path: str,
                      report: Report) -> None:
    """Each `monitor RESOURCE` must name a resource of haresources (cross-file, the loader's).

    A typo would otherwise leave the resource at the global settings without a word."""
    texts = {resource.text for group in groups for resource in group.resources}
    for override in monitoring.overrides:
        if override.resource not in texts:
            report.error(path, override.line, f"monitor {shown(override.resource)}: no such "
                                              "resource in haresources (write it as there)")

