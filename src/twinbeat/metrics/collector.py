"""The daemon's state as Prometheus metric families (docs/metrics.md has the list).

A custom `prometheus_client` collector: each scrape reads one `Readings` (the core's
snapshot, the monitor's last checks, the links' driver counters, the fence devices, the
loop lag, the endpoint's own counters) and yields families built from it. Nothing is kept
between scrapes and nothing is decided here: what "healthy" means is the status view's
(control/statusview.py), what a takeover is the core's. Every name starts with `twinbeat_`;
a value the daemon does not know (an RTT before the first echo, a check not yet run) is
left out rather than exported as 0. Enum-like values (phase, group state, check result,
fence state) are one 0/1 series per possible value, so a dashboard can graph each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from twinbeat.control.statusview import status_view
from twinbeat.core import FenceSnapshot, Snapshot
from twinbeat.core.states import FenceState, GroupLocal, Phase
from twinbeat.metrics.looplag import LagStats
from twinbeat.resources.health import Health

Family = Metric

# The drivers' counters (links/stats.py, daemon/inbox.py), as counters named after them.
DRIVER_COUNTERS = {
    "sent": "frames sent",
    "send_errors": "frames the kernel refused to send",
    "received": "datagrams or serial frames read",
    "oversize_dropped": "datagrams over the frame size, dropped unread",
    "reopens": "times the link was reopened (interface or pty came back)",
    "queue_full_dropped": "authentic frames dropped because the link's queue was full",
    "serial_garbage_bytes": "bytes of line noise between serial frames",
    "serial_oversize_frames": "serial frames over the frame size",
}
# The core's per-link frame counters (core/snapshot.py LinkCounters).
LINK_COUNTERS = {
    "frames_ok": "fresh frames from the peer: the ones that keep the link up",
    "replayed": "frames of an older generation, or a sequence already seen",
    "duplicates": "heartbeats already received on another link",
    "stale": "frames older than the state already applied",
    "unechoed": "frames echoing none of this node's recent heartbeats",
    "late": "gaps over warntime",
}
FENCE_RESULTS = ("fenced", "failed", "acknowledged", "cancelled")


@dataclass(frozen=True)
class Readings:
    """Everything one scrape shows, read from the daemon at once."""

    snapshot: Snapshot
    checks: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    drivers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    fence_devices: Sequence[Mapping[str, Any]] = ()
    loop_lag: LagStats | None = None
    endpoint: Mapping[str, int] = field(default_factory=dict)
    version: str = ""


def _gauge(name: str, doc: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"twinbeat_{name}", doc, labels=list(labels))


def _counter(name: str, doc: str, labels: Sequence[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(f"twinbeat_{name}_total", doc, labels=list(labels))


def _enum(name: str, doc: str, labels: Sequence[str], label: str, *,
          values: Sequence[str], rows: Sequence[tuple[Sequence[str], str]]) -> GaugeMetricFamily:
    """One 0/1 series per possible value for each row `(label values, current value)`."""
    family = _gauge(name, doc, [*labels, label])
    for keys, current in rows:
        for value in values:
            family.add_metric([*keys, value], float(value == current))
    return family


class SnapshotCollector(Collector):
    """Yields the families of one `Readings` per scrape (module docstring)."""

    def __init__(self, read: Callable[[], Readings]) -> None:
        self._read = read

    def describe(self) -> list[Family]:
        return []  # nothing to check at registration: the families exist per scrape

    def collect(self) -> Iterator[Family]:
        readings = self._read()
        yield from node_families(readings)
        yield from link_families(readings.snapshot, readings.drivers)
        yield from group_families(readings.snapshot)
        yield from resource_families(readings.snapshot, readings.checks)
        yield from fence_families(readings.snapshot.fencing, readings.fence_devices)
        yield from daemon_families(readings.loop_lag, readings.endpoint)


def node_families(readings: Readings) -> Iterator[Family]:
    snap = readings.snapshot
    info = _gauge("node_info", "this node: its name, its peer and twinbeat's version",
                  ["node", "peer", "version"])
    peer = snap.peers[0].name if snap.peers else ""
    info.add_metric([snap.node, peer, readings.version], 1.0)
    yield info
    yield _enum("node_phase", "this node's phase (1 for the current one)", [], "phase",
                values=[p.value for p in Phase], rows=[((), snap.state)])
    healthy = status_view(snap, readings.checks)["healthy"]
    yield GaugeMetricFamily("twinbeat_healthy", "1 when `twinbeat status` says healthy",
                            value=float(healthy))
    yield GaugeMetricFamily("twinbeat_generation", "this node's generation (a boot counter)",
                            value=float(snap.generation))
    yield CounterMetricFamily("twinbeat_pauses_total", "times this node itself did not run "
                              "for over 2 keepalives (core/pause.py)", value=float(snap.pauses))
    yield GaugeMetricFamily("twinbeat_pause_longest_seconds", "the longest of those pauses",
                            value=snap.longest_pause)
    if snap.ping_ok is not None:
        yield GaugeMetricFamily("twinbeat_ping_ok", "1 while a ping node answers",
                                value=float(snap.ping_ok))
    alive = _gauge("peer_alive", "1 while the peer is alive (any link up)", ["peer"])
    generation = _gauge("peer_generation", "the peer's generation as last accepted", ["peer"])
    heard = _gauge("peer_last_heard_age_seconds", "time since any fresh frame of the peer",
                   ["peer"])
    match = _gauge("peer_config_match", "1 when the peer's haresources fingerprint matches",
                   ["peer"])
    for p in snap.peers:
        alive.add_metric([p.name], float(p.alive))
        match.add_metric([p.name], float(p.config_match))
        if p.generation is not None:
            generation.add_metric([p.name], float(p.generation))
        if p.last_heard_age is not None:
            heard.add_metric([p.name], p.last_heard_age)
    yield from (alive, generation, heard, match)


def link_families(snap: Snapshot, drivers: Mapping[str, Mapping[str, Any]]) -> Iterator[Family]:
    labels = ["peer", "link"]
    up = _gauge("link_up", "1 while the peer is heard on this link", labels)
    heard = _gauge("link_last_heard_age_seconds", "time since the last fresh frame", labels)
    rtt = _gauge("link_rtt_seconds", "round-trip time from echoed timestamps", labels)
    gap = _gauge("link_worst_gap_seconds", "longest silence between two frames", labels)
    margin = _gauge("link_deadtime_margin_seconds", "deadtime minus the worst gap", labels)
    counters = {key: _counter(f"link_{key}", doc, labels) for key, doc in LINK_COUNTERS.items()}
    rejected = _counter("link_rejected", "frames of the peer refused, by reason",
                        [*labels, "reason"])
    for peer in snap.peers:
        for link in peer.links:
            keys = [peer.name, link.name]
            up.add_metric(keys, float(bool(link.up)))
            gap.add_metric(keys, link.max_gap)
            margin.add_metric(keys, link.deadtime_margin)
            if link.last_heard_age is not None:
                heard.add_metric(keys, link.last_heard_age)
            if link.rtt is not None:
                rtt.add_metric(keys, link.rtt)
            for key, family in counters.items():
                family.add_metric(keys, float(getattr(link.counters, key)))
            for reason, count in sorted(link.counters.rejected.items()):
                rejected.add_metric([*keys, reason], float(count))
    yield from (up, heard, rtt, gap, margin, *counters.values(), rejected)
    junk = _counter("link_unattributed", "frames refused before any sender could be trusted "
                    "(bad MAC, garbage, unknown sender), by reason", ["link", "reason"])
    for entry in snap.links:
        for reason, count in sorted(entry.rejected.items()):
            junk.add_metric([entry.name, reason], float(count))
    yield junk
    yield from driver_families(drivers)


def driver_families(drivers: Mapping[str, Mapping[str, Any]]) -> Iterator[Family]:
    opened = _gauge("link_open", "1 while the link's socket or serial port is open", ["link"])
    counters = {key: _counter(f"link_{key}", doc, ["link"])
                for key, doc in DRIVER_COUNTERS.items()}
    for name, values in drivers.items():
        opened.add_metric([name], float(bool(values.get("open"))))
        for key, family in counters.items():
            if key in values:
                family.add_metric([name], float(values[key]))
    yield opened
    yield from counters.values()


def group_families(snap: Snapshot) -> Iterator[Family]:
    labels = ["group"]
    mine = _gauge("group_holder_is_self", "1 while this node holds the group", labels)
    held = _gauge("group_held", "1 while some node (this one or the peer) holds the group",
                  labels)
    age = _gauge("group_state_age_seconds", "time since this node's state of the group "
                 "last changed", labels)
    fails = _gauge("group_fail_count", "resource failures here within failure_timeout", labels)
    given_up = _gauge("group_failed_here", "1 while given up here (not eligible here)", labels)
    acquired = _counter("group_acquisitions", "starts of the group that succeeded here", labels)
    takeovers = _counter("group_takeovers", "acquisitions that took the group over from the "
                         "peer", labels)
    failovers = _counter("group_failovers", "takeovers made while the peer was dead", labels)
    for g in snap.groups:
        keys = [g.key]
        mine.add_metric(keys, float(g.holder == snap.node))
        held.add_metric(keys, float(g.holder is not None))
        age.add_metric(keys, snap.now - g.last_change)
        fails.add_metric(keys, float(g.fail_count))
        given_up.add_metric(keys, float(g.failed_here))
        acquired.add_metric(keys, float(g.acquired))
        takeovers.add_metric(keys, float(g.takeovers))
        failovers.add_metric(keys, float(g.failovers))
    yield _enum("group_state", "this node's state of the group (1 for the current one)",
                labels, "state", values=[s.value for s in GroupLocal],
                rows=[((g.key,), g.local_state) for g in snap.groups])
    yield from (mine, held, age, fails, given_up, acquired, takeovers, failovers)


def resource_families(snap: Snapshot,
                      checks: Mapping[str, list[dict[str, Any]]]) -> Iterator[Family]:
    labels = ["group", "resource"]
    fails = _gauge("resource_fail_count", "the resource's failures here within "
                   "failure_timeout", labels)
    monitored = _gauge("resource_monitored", "1 while the resource is being checked", labels)
    age = _gauge("resource_check_age_seconds", "time since the last check ended", labels)
    runs = _counter("resource_checks", "checks run", labels)
    failed = _counter("resource_check_failures", "checks that failed", labels)
    results: list[tuple[Sequence[str], str]] = []
    for g in snap.groups:
        for r in g.resources:
            fails.add_metric([g.key, r.text], float(r.fail_count))
        for check in checks.get(g.key, ()):
            keys = [g.key, str(check.get("text"))]
            monitored.add_metric(keys, float(bool(check.get("monitored"))))
            runs.add_metric(keys, float(check.get("checks") or 0))
            failed.add_metric(keys, float(check.get("check_failures") or 0))
            if check.get("check") is not None:
                results.append((keys, str(check["check"])))
            if check.get("check_age") is not None:
                age.add_metric(keys, float(check["check_age"]))
    yield _enum("resource_check_result", "the last check's result (1 for it)", labels,
                "result", values=[h.value for h in Health], rows=results)
    yield from (fails, monitored, age, runs, failed)


def fence_families(fencing: FenceSnapshot | None,
                   devices: Sequence[Mapping[str, Any]]) -> Iterator[Family]:
    if fencing is not None:
        keys = [fencing.peer]
        yield _enum("fence_state", "fencing of the peer (1 for the current state)", ["peer"],
                    "state", values=[s.value for s in FenceState], rows=[(keys, fencing.state)])
        degraded = _gauge("fence_degraded", "1 while a fence is needed and not confirmed",
                          ["peer"])
        degraded.add_metric(keys, float(fencing.degraded))
        current = _gauge("fence_current_attempts", "attempts for the peer's current death",
                         ["peer"])
        current.add_metric(keys, float(fencing.attempts))
        attempts = _counter("fence_attempts", "fence attempts since start-up", ["peer"])
        attempts.add_metric(keys, float(fencing.attempts_total))
        results = _counter("fence_results", "fence outcomes since start-up", ["peer", "result"])
        for result in FENCE_RESULTS:
            results.add_metric([*keys, result], float(fencing.results.get(result, 0)))
        yield from (degraded, current, attempts, results)
    runs = _counter("fence_device_runs", "fences run through each device, by outcome",
                    ["device", "result"])
    check = _gauge("fence_device_check_ok", "1 when the device answered its start-up check, "
                   "0 when it failed", ["device"])
    for device in devices:
        name = str(device.get("device"))
        for result in ("fenced", "failed"):
            runs.add_metric([name, result], float(device.get(result) or 0))
        if device.get("check") in ("ok", "failed"):
            check.add_metric([name], float(device["check"] == "ok"))
    yield from (runs, check)


def daemon_families(lag: LagStats | None, endpoint: Mapping[str, int]) -> Iterator[Family]:
    if lag is not None:
        yield HistogramMetricFamily(
            "twinbeat_loop_lag_seconds", "how late the event loop woke a sleeping task "
            "(sampled; looplag.py)", buckets=lag.cumulative(), sum_value=lag.total)
        yield GaugeMetricFamily("twinbeat_loop_lag_max_seconds", "the worst loop lag sampled "
                                "since start-up", value=lag.worst)
    requests = _counter("metrics_requests", "requests to this endpoint, by outcome",
                        ["outcome"])
    for outcome, count in sorted(endpoint.items()):
        requests.add_metric([outcome], float(count))
    yield requests

