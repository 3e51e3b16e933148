"""Service monitoring in the simulator (issue #12): the monitor's side of the fake agents, and
the properties of the core's restart-or-give-up rules.

Owns `Monitor`, one per `Simulation` (sim_cluster.py calls it from a few hooks):

- **The monitor driver, as modelled.** A group is monitored at a node from the core's
  `StartMonitoring` to its `StopMonitoring` (or the daemon's death). During the fault phase
  its checks find failures at random (a mean time between failures per run, of one of its
  resources), reported after a short delay — sometimes a long one, so that the report
  arrives after the group stopped being monitored (stale: the core must ignore it). In some
  runs one node *cannot run* one group at all: every check there reports `cannot_run`, in
  every phase, healing included.
- **Restarts.** `RestartGroup` is answered after 0.01..AGENT_MAX s: `GroupRestarted`, or
  during the fault phase sometimes `GroupRestartFailed` rolled back (nothing runs), not
  rolled back (stuck: CRITICAL), or a hang that the driver's timeout turns into
  `GroupRestartFailed(rolled_back=False)` (the drivers' contract) a few seconds later.
- An admin's `twinbeat clear [GROUP]` now and then, in some runs.

Properties (a violation raises through `Simulation._violation`, with the replay command):
- **The contract**: a group is never stopped or restarted while still monitored (the
  StopMonitoring comes first), never monitored twice, never unmonitored when it was not.
- **Restart first, then the threshold**: every failure reported while the group is held is
  judged against a reference count (the failures counted in this incarnation, since the
  last clear, within `failure_timeout` on that node's clock): below the threshold the core
  must answer exactly StopMonitoring + RestartGroup(key, resource); at the threshold, or for
  `cannot_run`, exactly StopMonitoring + StopGroup; a stale report, nothing. The snapshot's
  fail count must equal the reference count.
- **No ping-pong**: a node that gave a group up never starts it again before its last failure
  is `failure_timeout` old (never, for 0), unless cleared or restarted.
- **Handoffs per window**: a node gives one group up at most once per failure window (per
  incarnation and clear): one handoff per node and window, at most.
- **At the end**: no node that cannot run a group holds it; a group nobody holds must be
  failed on both nodes (`failed_here`): a degraded service beats a flapping one.
Randomness comes from its own `random.Random`, seeded from the run's seed, so that the
simulator's other faults are drawn as before.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import TYPE_CHECKING, Any

from twinbeat.core import (
    FailuresCleared,
    GroupRestarted,
    GroupRestartFailed,
    GroupSpec,
    ResourceFailed,
    RestartGroup,
    StartGroup,
    StartMonitoring,
    StopGroup,
    StopMonitoring,
)

if TYPE_CHECKING:
    from sim_cluster import Simulation

FAR = 600.0  # a failure_timeout longer than any run: nothing expires
REPORT_DELAY = (0.0, 0.3)  # from a check finding a failure to the core hearing of it
STALE_DELAY = (0.5, 3.0)  # ... for a report that waited (it may arrive stale)
CANNOT_RUN_DETECT = (0.1, 2.0)  # from StartMonitoring to a "cannot run" report
HANG = (1.0, 3.0)  # a hung restart: the driver's timeout fires this long after AGENT_MAX
CLEAR_EVERY = 20.0  # mean seconds between admin clears, in runs that have them
SERVICES = ("svc-db", "svc-web")
FROZEN_RETRY = 0.05  # s: how often a report waiting for a frozen daemon looks again

Key = tuple[str, str]  # (node, group key)


class Monitor:
    """See the module docstring."""

    def __init__(self, sim: Simulation, groups: tuple[GroupSpec, ...], *, agent_max: float,
                 keepalive: float) -> None:
        self.sim = sim
        self.rng = random.Random(sim.seed * 104729 + 7)
        r = self.rng
        self.agent_max = agent_max
        self.groups = tuple(
            GroupSpec(g.key, g.primary, (g.key, *SERVICES[: r.randint(0, 2)])) for g in groups
        )
        self.mtbf = r.choice((None, None, 30.0, 10.0, 4.0))
        self.restart_fail = r.choice((0.0, 0.1, 0.3))
        self.threshold = r.choice((1, 2, 3, 3))
        self.cannot_run: set[Key] = set()
        if r.random() < 0.25:
            self.cannot_run.add((r.choice(sorted(sim.nodes)), r.choice(self.groups).key))
        self.timeout = r.choice((0.0, FAR) if self.cannot_run else (0.0, 15.0, 40.0, FAR))
        self.clears = r.random() < 0.3
        # After healing, a node that cannot run a group may try it once more (a restarted
        # daemon has no fail count): its start, the report, its stop, the peer's claim.
        self.settle = CANNOT_RUN_DETECT[1] + 2 * agent_max + 2 * keepalive
        self.bound_extra = self.settle if self.cannot_run else 0.0
        self._sessions: dict[Key, tuple[int, int]] = {}  # monitored: (incarnation, token)
        self._tokens = 0
        self._counted: dict[Key, list[float]] = {}  # reference fail counts (local times)
        self._barred: dict[Key, float] = {}  # given up: no start before (local time)
        self._gave_up: dict[Key, list[float]] = {}  # give-ups this incarnation and clear
        self._seen_incarnation: dict[str, int] = {}
        self._outputs: list[Any] | None = None  # recorded while a report is fed
        self.stats: Counter[str] = Counter()  # what happened: the suite checks it all does

    def off(self) -> None:
        """No failures, no cannot-run node, no clears (scripted simulations)."""
        self.mtbf, self.restart_fail, self.clears = None, 0.0, False
        self.cannot_run.clear()

    def schedule(self) -> None:
        t = 0.0
        while self.clears and (t := t + self.rng.expovariate(1 / CLEAR_EVERY)) < self.sim.heal_at:
            self.sim._push(t, "monitor", ("clear",))

    # ------------------------------------------------------------------ the driver

    def act(self, name: str, output: Any) -> None:
        """Every order a node's core gives (the hook in Simulation._act)."""
        if self._outputs is not None:
            self._outputs.append(output)
        match output:
            case StartMonitoring(key=key):
                if self._monitored(name, key):
                    self._violation(f"{name} monitors {key} twice")
                self._start_session(name, key)
            case StopMonitoring(key=key):
                if not self._monitored(name, key):
                    self._violation(f"{name} stops monitoring {key}, which it does not monitor")
                del self._sessions[(name, key)]
            case StopGroup(key=key) | RestartGroup(key=key) if self._monitored(name, key):
                self._violation(f"{name}: {output!r} while {key} is still monitored")
            case RestartGroup(key=key, from_resource=first):
                self._answer_restart(name, key, first)
            case StartGroup(key=key):
                self._check_barred(name, key)

    def _monitored(self, name: str, key: str) -> bool:
        session = self._sessions.get((name, key))
        return session is not None and session[0] == self.sim.incarnation[name]

    def _start_session(self, name: str, key: str) -> None:
        self._tokens += 1
        token = self._tokens
        self._sessions[(name, key)] = (self.sim.incarnation[name], token)
        if (name, key) in self.cannot_run:
            when = self.sim.now + self.rng.uniform(*CANNOT_RUN_DETECT)
            ev = ResourceFailed(key, self.rng.randrange(self._size(key)), "not installed",
                                cannot_run=True)
            self.sim._push(when, "monitor", ("report", name, self.sim.incarnation[name], ev))
        else:
            self._next_check(name, key, token)

    def _next_check(self, name: str, key: str, token: int) -> None:
        if self.mtbf is not None:
            when = self.sim.now + self.rng.expovariate(1 / self.mtbf)
            if when < self.sim.heal_at:
                self.sim._push(when, "monitor", ("check", name, key, token))

    def _check(self, name: str, key: str, token: int) -> None:
        """A check found resource i failed: report it (the group may stop meanwhile)."""
        session = self._sessions.get((name, key))
        if session is None or session[1] != token or self.sim.now >= self.sim.heal_at:
            return
        r = self.rng
        delay = r.uniform(*(STALE_DELAY if r.random() < 0.2 else REPORT_DELAY))
        ev = ResourceFailed(key, r.randrange(self._size(key)), r.choice(("not running", "hung")))
        self.sim._push(self.sim.now + delay, "monitor", ("report", name, session[0], ev))
        self._next_check(name, key, token)

    def _answer_restart(self, name: str, key: str, first: int) -> None:
        r = self.rng
        when = self.sim.now + r.uniform(0.01, self.agent_max)
        ev: GroupRestarted | GroupRestartFailed = GroupRestarted(key)
        if self.sim.now < self.sim.heal_at and r.random() < self.restart_fail:
            kind = r.random()
            if kind < 0.15:  # hung: the driver's timeout
                when = self.sim.now + self.agent_max + r.uniform(*HANG)
                ev = GroupRestartFailed(key, "timed out", rolled_back=False)
            else:
                ev = GroupRestartFailed(key, "sim: start failed", rolled_back=kind >= 0.3)
        elif first == 0:  # the address was removed and is added again: a new GARP series
            self.sim._garps(self.sim.arp.started(name, key, when))
        self.sim._push(when, "monitor", ("result", name, self.sim.incarnation[name], ev))

    def _size(self, key: str) -> int:
        return next(len(g.resources) for g in self.groups if g.key == key)

    # ------------------------------------------------------------------ events

    def handle(self, payload: tuple[Any, ...]) -> None:
        """A "monitor" event of the simulation's heap. The monitor is the daemon's: while
        the daemon is frozen (sim_fence.py), its reports and results wait with it."""
        if payload[0] in ("report", "result") and self.sim.fence.is_frozen(payload[1]):
            self.sim._push(self.sim.now + FROZEN_RETRY, "monitor", payload)
            return
        match payload:
            case ("check", name, key, token):
                self._check(name, key, token)
            case ("report", name, inc, ev):
                self._report(name, inc, ev)
            case ("result", name, inc, ev):
                self._result(name, inc, ev)
            case ("clear",):
                self._clear()

    def _report(self, name: str, inc: int, ev: ResourceFailed) -> None:
        sn = self.sim.nodes[name]
        if inc != self.sim.incarnation[name] or sn.engine is None:
            return  # the daemon died with its monitor
        before = self._state(name, ev.key)
        now = sn.local(self.sim.now)
        self._outputs = []
        try:
            self.sim._feed(name, ev)
            outputs = self._outputs
        finally:
            self._outputs = None
        self._judge(name, ev, before, now, outputs)

    def _result(self, name: str, inc: int, ev: GroupRestarted | GroupRestartFailed) -> None:
        """A restart's outcome. One whose daemon died meanwhile died with it (systemd kills
        the service's control group): what it left running is that daemon's leftover,
        which the next incarnation probes and stops."""
        sn = self.sim.nodes[name]
        if inc != self.sim.incarnation[name] or sn.engine is None:
            return
        if isinstance(ev, GroupRestartFailed):
            now = sn.local(self.sim.now)
            self._window(name, ev.key, now).append(now)
            if ev.rolled_back:
                self._record_give_up(name, ev.key, now)
        self.sim._deliver_agent(name, inc, ev)
        self.stats[_outcome(ev)] += 1
        if isinstance(ev, GroupRestartFailed) and sn.engine is not None:  # (not exited)
            want = {"given_up"} if ev.rolled_back else {"critical"}
            if not ev.rolled_back and self._leaving(name):
                want.add("stopping")  # a critical group's stop is retried once at shutdown
            if self._state(name, ev.key) not in want:
                self._violation(f"{name}: {ev!r} left {ev.key} {self._state(name, ev.key)}")

    def _clear(self) -> None:
        name = self.rng.choice(sorted(self.sim.nodes))
        key = self.rng.choice((None, *(g.key for g in self.groups)))
        if self.sim.nodes[name].engine is None:
            return
        self._sync(name)
        for k in [k for k in (*self._counted, *self._barred, *self._gave_up) if k[0] == name]:
            if key is None or k[1] == key:
                self._counted.pop(k, None)
                self._barred.pop(k, None)
                self._gave_up.pop(k, None)
        self.sim._feed(name, FailuresCleared(key))
        self.stats["clear"] += 1

    # ------------------------------------------------------------------ properties

    def _judge(self, name: str, ev: ResourceFailed, before: str | None, now: float,
               outputs: list[Any]) -> None:
        """The core's answer to a reported failure, against the reference count."""
        key = ev.key
        mine = [o for o in outputs if isinstance(o, StopMonitoring | StopGroup | RestartGroup)
                and o.key == key]
        if before != "held":
            self.stats["stale"] += 1
            if mine:
                self._violation(f"{name} acted on a stale failure of {key} ({before}): {mine}")
            return
        window = self._window(name, key, now)
        window.append(now)
        give_up = ev.cannot_run or len(window) >= self.threshold
        last = StopGroup(key) if give_up else RestartGroup(key, ev.resource)
        if mine != [StopMonitoring(key), last]:
            self._violation(f"{name}: failure {len(window)} of {self.threshold} of {key} "
                            f"(cannot_run={ev.cannot_run}, timeout {self.timeout:g}s) called "
                            f"for {last!r}, the core ordered {mine}")
        count = self._snapshot(name, key).fail_count
        if count != len(window):
            self._violation(f"{name} counts {count} failures of {key}, not {len(window)}")
        self.stats["cannot_run" if ev.cannot_run else "give_up" if give_up else "restart"] += 1
        if give_up:
            self._record_give_up(name, key, now)

    def _record_give_up(self, name: str, key: str, now: float) -> None:
        """No more handoffs than the threshold allows: once per node and failure window."""
        earlier = self._gave_up.setdefault((name, key), [])
        within = [t for t in earlier if self.timeout == 0 or now < t + self.timeout]
        if within:
            self._violation(f"{name} gave {key} up twice within {self.timeout:g}s "
                            f"(at {within[-1]:.3f} and {now:.3f}, its clock)")
        earlier.append(now)
        self._barred[(name, key)] = now + self.timeout if self.timeout > 0 else math.inf
        if 0 < self.timeout < FAR:  # the run lasts until the group has settled after expiry
            expiry = self.sim.now + self.timeout * 1.01  # (drift is at most 0.5 %)
            self.sim.end = max(self.sim.end, expiry + self.settle)

    def _check_barred(self, name: str, key: str) -> None:
        """No ping-pong: no start of a group given up here before its failures expire."""
        self._sync(name)
        bar = self._barred.get((name, key))
        now = self.sim.nodes[name].local(self.sim.now)
        if bar is not None and now < bar:
            self._violation(f"{name} started {key}, which it gave up for failures, before its "
                            f"fail count expired (at {now:.3f}, barred until {bar:.3f})")

    def failed_on_both(self, key: str) -> bool:
        """Nobody holds `key`: allowed only when both nodes gave it up (the end check)."""
        return all(
            sn.engine is not None and self._snapshot(sn.name, key).failed_here
            for sn in self.sim.nodes.values()
        )

    def check_end(self, held: dict[str, str]) -> None:
        self.stats["failed_on_both"] += sum(1 for g in self.groups if g.key not in held)
        for name, key in sorted(self.cannot_run):
            if held.get(key) == name:
                self._violation(f"{name}, which cannot run {key}, holds it at the end")

    # ------------------------------------------------------------------ helpers

    def _sync(self, name: str) -> None:
        """A new incarnation of the daemon starts with no fail counts."""
        inc = self.sim.incarnation[name]
        if self._seen_incarnation.get(name) != inc:
            self._seen_incarnation[name] = inc
            for table in (self._counted, self._barred, self._gave_up):
                for k in [k for k in table if k[0] == name]:
                    del table[k]

    def _window(self, name: str, key: str, now: float) -> list[float]:
        """The reference count: failures counted on `name` within the timeout (its clock)."""
        self._sync(name)
        kept = [t for t in self._counted.get((name, key), [])
                if self.timeout == 0 or now < t + self.timeout]
        self._counted[(name, key)] = kept
        return kept

    def _snapshot(self, name: str, key: str) -> Any:
        engine = self.sim.nodes[name].engine
        assert engine is not None
        return next(g for g in engine.snapshot().groups if g.key == key)

    def _state(self, name: str, key: str) -> str | None:
        engine = self.sim.nodes[name].engine
        return None if engine is None else self._snapshot(name, key).local_state

    def _leaving(self, name: str) -> bool:
        engine = self.sim.nodes[name].engine
        return engine is not None and engine.snapshot().state == "leaving"

    def _violation(self, what: str) -> None:
        self.sim._violation(what)


def _outcome(ev: GroupRestarted | GroupRestartFailed) -> str:
    if isinstance(ev, GroupRestarted):
        return "restarted"
    if ev.rolled_back:
        return "restart_failed"
    return "restart_hung" if ev.reason == "timed out" else "restart_stuck"
