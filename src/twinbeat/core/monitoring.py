"""Service monitoring: what a failed resource does to its group — restart it here, or give
the group up (issue #12; docs/core.md §Monitoring).

Owns: one `FailCount` per group (this node's failures of the group's resources within the
failure window, and the latest reason per resource) and the rules below. The monitor driver
checks the resources of the groups the core asked it to (`StartMonitoring`: groups.py issues
it exactly while a group is HELD here) and reports `ResourceFailed`; this module decides.
Group states change only through `Groups.move` (states.GROUP_TRANSITIONS). Must import
nothing doing I/O, and not node.py or membership's state.

The rules (`migration_threshold` N, `failure_timeout` W from `Params`):
- **Restart in place first.** A failure of resource i of a group held here is counted; while
  the group has fewer than N failures within W, `RestartGroup(key, i)` stops resource i and
  every one after it and starts them again (RESTARTING, advertised HELD: the peer must not
  start the group meanwhile). heartbeat v1 had no monitoring; this is Pacemaker's default
  (restart where it failed, move after migration-threshold failures).
- **Give up.** The N-th failure within W, or a resource that says this node cannot run it at
  all (`cannot_run`: OCF_ERR_INSTALLED/OCF_ERR_CONFIGURED, a failure no restart cures), or a
  restart whose start failed (the driver stopped the whole group: a restart does not work
  here) gives the group up here: StopGroup (GIVING_UP), then GIVEN_UP, advertised FAILED.
  Ownership counts a FAILED node out, so the peer takes the group over if it is alive and
  has not failed it too; otherwise it stays stopped, failed on both (a degraded service
  beats a flapping one).
- **No ping-pong.** A group given up here is not taken back — not even by auto_failback,
  which only picks an eligible primary — until all its failures have expired (W after the
  last one; never when W = 0) or an admin clears them (`FailuresCleared`, `twinbeat clear`).
- Failures are counted per group (the sum over its resources): every restart interrupts the
  whole group's service from the failed resource on, and N bounds those interruptions.
  A failure is forgotten W after it happened (a sliding window; Pacemaker instead resets a
  resource's whole count W after its last failure).
- A result racing with a stop (the group no longer HELD here) is stale: ignored. A restart
  that could not stop something (or hung) is CRITICAL, like a failed stop: it stays claimed.
- Failed *starts* are not counted here: they keep groups.py's FAILED state and backoff, so
  that the peer may try meanwhile; a failed start says little about a running service.
- Fail counts live in memory: a restarted daemon starts with none (as Pacemaker's transient
  fail counts do when a node rejoins).
"""

from __future__ import annotations

from .errors import CoreMisuse
from .events import (
    Action,
    FailuresCleared,
    GroupRestarted,
    GroupRestartFailed,
    Log,
    ResourceFailed,
    RestartGroup,
    StopGroup,
)
from .groups import Groups
from .notices import LivePeer
from .params import GroupSpec, Params
from .records import FailCount, Group
from .states import GIVEN_UP_HERE, GroupLocal, GroupTrigger, WireGroupState

MonitorEvent = ResourceFailed | GroupRestarted | GroupRestartFailed | FailuresCleared


def threshold_reached(count: int, threshold: int) -> bool:
    """The failure that gives a group up: the `threshold`-th within the window."""
    return count >= threshold


def may_run_again(count: FailCount) -> bool:
    """A group given up here is eligible again once every failure of it is forgotten."""
    return not count.failures


def resource_text(spec: GroupSpec, index: int) -> str:
    """The resource as written in haresources (the key is the first one's text)."""
    if index < len(spec.resources):
        return spec.resources[index]
    return spec.key if index == 0 else f"#{index}"


class Monitoring:
    """The groups' fail counts and the monitoring rules. See the module docstring."""

    def __init__(self, params: Params) -> None:
        self._p = params

    def reconfigure(self, params: Params) -> None:
        """A reload: the new threshold and window apply from now on (docs/core.md, Reload)."""
        self._p = params

    # ------------------------------------------------------------------ queries

    def deadline(self, groups: Groups) -> float | None:
        """When the next failure is forgotten (the status changes; a group may run here)."""
        timeout = self._p.failure_timeout
        times = [t for g in groups.every() if (t := g.fails.expires(timeout)) is not None]
        return min(times, default=None)

    def last_failure(self, g: Group) -> str | None:
        """"<resource text>: <reason>" of the group's latest failure, or None."""
        c = g.fails
        if c.latest is None:
            return None
        return f"{resource_text(g.spec, c.latest)}: {c.reasons[c.latest]}"

    # ------------------------------------------------------------------ events

    def check(self, ev: MonitorEvent, groups: Groups) -> None:
        """`CoreMisuse` for an unknown group or resource, or a restart result unasked for."""
        if groups.retired(ev.key):
            return  # a late report about a group a reload removed: ignored (on_event)
        match ev:
            case ResourceFailed(key=key, resource=i):
                g = groups.get(key)
                n = len(g.spec.resources)
                # A group being stopped for a reload may report against its old resources.
                if i < 0 or (n and i >= n and g.pending is None):
                    raise CoreMisuse(f"group {key} has no resource #{i}")
            case GroupRestarted(key=key) | GroupRestartFailed(key=key):
                if groups.get(key).state is not GroupLocal.RESTARTING:
                    raise CoreMisuse(f"{type(ev).__name__} for {key}, which is not restarting")
            case FailuresCleared(key=key) if key is not None:
                groups.get(key)

    def on_event(self, ev: MonitorEvent, now: float, groups: Groups, peer: LivePeer | None,
                 out: list[Action]) -> None:
        if groups.retired(ev.key):
            out.append(Log("debug", f"Ignoring {type(ev).__name__} for {ev.key}: no longer "
                                    "in the configuration"))
            return
        match ev:
            case ResourceFailed():
                self._on_failure(ev, now, groups, peer, out)
            case GroupRestarted(key=key):
                groups.move(groups.get(key), GroupTrigger.RESTARTED, now, out)
                out.append(Log("info", f"Resource group {key} restarted"))
            case GroupRestartFailed():
                self._on_restart_failed(ev, now, groups, peer, out)
            case FailuresCleared(key=key):
                self._clear(key, now, groups, out)

    def advance(self, now: float, groups: Groups, out: list[Action]) -> None:
        """Failures W old are forgotten; a group given up here whose failures are all
        forgotten may run here again (it advertises NONE, or finishes its stop as a plain
        one)."""
        for g in groups.records:
            g.fails.forget(now, self._p.failure_timeout)
            if g.state in GIVEN_UP_HERE and may_run_again(g.fails):
                out.append(Log("info", f"Fail count of resource group {g.spec.key} expired: "
                                       "it may run here again"))
                groups.move(g, GroupTrigger.FORGIVEN, now, out)

    # ------------------------------------------------------------------ the rules

    def _on_failure(self, ev: ResourceFailed, now: float, groups: Groups,
                    peer: LivePeer | None, out: list[Action]) -> None:
        g = groups.get(ev.key)
        text = resource_text(g.spec, ev.resource)
        if g.state is not GroupLocal.HELD:  # raced with a stop or a restart: stale
            out.append(Log("debug", f"Ignoring a failure of {text} in group {ev.key}, which is "
                                    f"{g.state.value} here (no longer monitored)"))
            return
        count = g.fails.add(now, ev.resource, ev.reason)
        limit = self._p.migration_threshold
        tally = f"failure {count} of {limit}{self._window()}"
        if ev.cannot_run:
            out.append(Log("error", f"Resource {text} of group {ev.key} cannot run on this "
                                    f"node ({ev.reason}): giving the group up here"
                                    f"{self._next(g, peer)}"))
        elif threshold_reached(count, limit):
            out.append(Log("error", f"Resource {text} of group {ev.key} failed ({ev.reason}): "
                                    f"giving the group up here ({tally}){self._next(g, peer)}"))
        else:
            last = ev.resource == len(g.spec.resources) - 1
            rest = "it" if last else "it and what follows it"
            out.append(Log("warning", f"Resource {text} of group {ev.key} failed ({ev.reason}): "
                                      f"restarting {rest} here ({tally})"))
            g.fails.restart_from = ev.resource
            groups.move(g, GroupTrigger.RESTART, now, out)
            out.append(RestartGroup(ev.key, ev.resource))
            return
        groups.move(g, GroupTrigger.GIVE_UP, now, out)
        out.append(StopGroup(ev.key))
        out.append(Log("info", f"Not running resource group {ev.key} here again {self._until(g)}"))

    def _on_restart_failed(self, ev: GroupRestartFailed, now: float, groups: Groups,
                           peer: LivePeer | None, out: list[Action]) -> None:
        g = groups.get(ev.key)
        c = g.fails
        c.add(now, c.restart_from, f"restart failed: {ev.reason}")
        if not ev.rolled_back:
            groups.move(g, GroupTrigger.RESTART_STUCK, now, out)
            out.append(Log("critical", f"Resource group {ev.key} failed to restart and could not "
                                       f"be stopped ({ev.reason}): it stays claimed by this "
                                       "node; manual intervention required!"))
            return
        groups.move(g, GroupTrigger.RESTART_FAILED, now, out)
        out.append(Log("error", f"Resource group {ev.key} failed to restart ({ev.reason}) and is "
                                f"stopped: giving it up here{self._next(g, peer)}"))
        out.append(Log("info", f"Not running resource group {ev.key} here again {self._until(g)}"))

    def _clear(self, key: str | None, now: float, groups: Groups, out: list[Action]) -> None:
        """`twinbeat clear [GROUP]`: forget the failures; a group given up here may run here."""
        for g in groups.records:
            c = g.fails
            if key is not None and g.spec.key != key:
                continue
            c.failures.clear()
            c.reasons.clear()
            c.latest = None
            if g.state in GIVEN_UP_HERE:
                groups.move(g, GroupTrigger.FORGIVEN, now, out)
        which = "every resource group" if key is None else f"resource group {key}"
        out.append(Log("info", f"Fail counts cleared for {which}"))

    # ------------------------------------------------------------------ log wording

    def _window(self) -> str:
        timeout = self._p.failure_timeout
        return f" in {timeout:g}s" if timeout > 0 else ""

    def _until(self, g: Group) -> str:
        timeout = self._p.failure_timeout
        clear = f"`twinbeat clear {g.spec.key}`"
        if timeout > 0:
            return f"before its failures expire ({timeout:g}s after the last) or {clear}"
        return f"before {clear}"

    def _next(self, g: Group, peer: LivePeer | None) -> str:
        """What becomes of a group given up here: the peer's part, as this node sees it."""
        if self._p.peer is None:
            return "; no other node: it stays stopped"
        if peer is None:
            return f"; {self._p.peer} is dead: it stays stopped"
        theirs = peer.group(g.index)
        if theirs is WireGroupState.FAILED:
            return f"; {peer.name} has failed it too: it stays stopped"
        if theirs is WireGroupState.CRITICAL:
            return f"; {peer.name} failed to stop it: nobody may start it"
        return f"; {peer.name} may take it over"
