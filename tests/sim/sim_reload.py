"""Reloads in the simulator (issue #16): the nodes re-read a changed haresources mid-run.

Owns `Reloads`, one per `Simulation`; it acts only in runs made with `reloads=True`
(test_sim_reload.py), with a `random.Random` of its own so that the other faults of a seed are
drawn as before. sim_cluster.py calls it from a few hooks: the params a node boots with, the
leftovers it probes, every StopGroup, the heal, the end.

- **The files change** during the fault phase: a group is removed, put back, or redefined (a
  resource added or taken away), and the cluster's files say so. Each node's daemon reloads
  them at its own moment: one at once, the other a little later or not until healing, so the
  two run mismatched configurations meanwhile, through every other fault (cuts, crashes,
  freezes, standby). A daemon that is down reads the files when it boots. Sometimes a node
  reloads files that did not change. At healing both reload the final files.
- The daemon's reload is `Engine.reconfigure`, fed like the daemon's reload (daemon/reload.py)
  with the same keys and links; a reload the core refuses (starting up, shutting down)
  changes nothing and is tried again a second later, as an admin would (a daemon that exits
  reads the files when it starts again).

Properties (a violation raises through `Simulation._violation`, with the replay command):
- **An unchanged reload changes nothing**: right after a Tick at the same instant, the
  engine's answer is no output at all, and its snapshot is the same.
- **A removed group held here is stopped exactly once**: at most one StopGroup for it from that
  daemon while it stays removed (sim_monitor checks that the StopMonitoring came first), and
  by the end it runs nowhere; a removed group is never started.
- At the end (sim_cluster's liveness check): every group of the final files has one holder.

A group removed while its daemon was down, and left running by the crash, is not the
reload's: no daemon configured without it would ever stop it (docs/operations.md). The
simulated admin stops such a leftover by hand when that daemon boots.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from twinbeat.core import GroupSpec, Tick

if TYPE_CHECKING:
    from sim_cluster import Simulation

EVERY = 12.0  # mean seconds between changes of the files
LAG = 10.0  # the second node reloads up to this long after the first (or at healing)
EXTRA = "svc-extra"  # the resource a redefinition adds or removes
BUSY = ("held", "starting", "restarting")  # a removed group in one of these must be stopped
RETRY = 1.0  # s: a refused reload is tried again (until the daemon has started, or exited)


def fingerprint(groups: tuple[GroupSpec, ...]) -> int:
    return zlib.crc32(repr(groups).encode())


class Reloads:
    """See the module docstring."""

    def __init__(self, sim: Simulation, enabled: bool) -> None:
        self.sim = sim
        self.enabled = enabled
        self.rng = random.Random(sim.seed * 7919 + 16)
        self.universe = sim.groups
        self._files = sim.groups  # what the cluster's haresources say now
        self.config = dict.fromkeys(sim.nodes, sim.groups)  # what each daemon runs
        self.stops: dict[tuple[str, str], int] = {}  # removed here: StopGroups seen since
        self.stats: Counter[str] = Counter()

    # ------------------------------------------------------------------ hooks

    @property
    def files(self) -> tuple[GroupSpec, ...]:
        """The groups of the files now (a run without reloads: the simulation's own)."""
        return self._files if self.enabled else self.sim.groups

    @files.setter
    def files(self, groups: tuple[GroupSpec, ...]) -> None:
        self._files = groups

    def groups_of(self, name: str) -> tuple[GroupSpec, ...]:
        return self.config[name] if self.enabled else self.sim.groups

    def fingerprint_of(self, name: str) -> int | None:
        return fingerprint(self.config[name]) if self.enabled else None

    def booting(self, name: str) -> None:
        """A daemon starts: it reads the files; the admin stops leftovers they lost."""
        if not self.enabled:
            return
        self.config[name] = self.files
        keys = {g.key for g in self.files}
        for key in [k for k in self.sim.ledger[name] if k not in keys]:
            self.sim.trace.append(f"{self.sim.now:.6f} {name} ADMIN stops leftover {key}")
            del self.sim.ledger[name][key]
        for k in [k for k in self.stops if k[0] == name]:
            del self.stops[k]

    def stopped(self, name: str, key: str) -> None:
        """A StopGroup from `name`'s core."""
        if (name, key) in self.stops:
            self.stops[(name, key)] += 1
            retried = self.sim.ledger[name].get(key) == "critical"  # a failed stop, at shutdown
            if self.stops[(name, key)] > 1 and not retried:
                self.sim._violation(f"{name} stopped the removed group {key} twice")
            self.stats["removed_stopped"] += 1

    def started(self, name: str, key: str) -> None:
        if self.enabled and key not in {g.key for g in self.config[name]}:
            self.sim._violation(f"{name} started {key}, which its configuration removed")

    def schedule(self) -> None:
        if not self.enabled:
            return
        t = self.rng.uniform(2, 10)
        while t < self.sim.heal_at:
            self.sim._push(t, "reload", ("change",))
            t += self.rng.expovariate(1 / EVERY)

    def handle(self, payload: tuple[Any, ...]) -> None:
        match payload:
            case ("change",):
                self._change()
            case ("node", name):
                self.reload(name)

    def heal(self) -> None:
        if self.enabled:
            for name in self.sim.nodes:
                self.reload(name)

    def check_end(self, held: dict[str, str]) -> None:
        if not self.enabled:
            return
        keys = {g.key for g in self.files}
        for name, ledger in self.sim.ledger.items():
            for key, state in ledger.items():
                if key not in keys and state == "held":
                    self.sim._violation(f"{name} still runs {key}, removed from the files")
        self.stats["final_groups"] += len(keys)

    # ------------------------------------------------------------------ the changes

    def _change(self) -> None:
        r = self.rng
        kind = r.choice(("same", "remove", "add", "redefine"))
        names = sorted(self.sim.nodes)
        first = r.choice(names)
        if kind == "same":
            self.reload(first)
            return
        files = self._changed(kind)
        if files is None:
            return
        self.files = files
        self.stats[kind] += 1
        self.sim.trace.append(f"{self.sim.now:.6f} FILES {kind}: {[g.key for g in files]}")
        self.reload(first)
        other = names[1] if first == names[0] else names[0]
        if r.random() < 0.8:
            self.sim._push(self.sim.now + r.uniform(0, LAG), "reload", ("node", other))

    def _changed(self, kind: str) -> tuple[GroupSpec, ...] | None:
        r = self.rng
        present = [g.key for g in self.files]
        if kind == "remove" and len(self.files) > 1:
            gone = r.choice(present)
            return tuple(g for g in self.files if g.key != gone)
        if kind == "add" and len(self.files) < len(self.universe):
            back = r.choice([g for g in self.universe if g.key not in present])
            return tuple(g for g in self.universe if g.key in present or g is back)
        if kind == "redefine":
            target = r.choice(present)
            return tuple(_redefined(g) if g.key == target else g for g in self.files)
        return None

    def reload(self, name: str) -> None:
        """`name`'s daemon reloads the files now (SIGHUP)."""
        sim = self.sim
        sn = sim.nodes[name]
        if sn.engine is None:
            return  # it reads them when it boots
        if sim.fence.is_frozen(name):
            sim._push(sim.now + 0.05, "reload", ("node", name))
            return
        engine = sn.engine
        params = replace(engine.params, groups=self.files, fingerprint=fingerprint(self.files))
        if engine.reconfigure_refusal(params, engine.link_ids) is not None:
            self.stats["refused"] += 1  # starting up or shutting down: the admin tries again
            sim._push(sim.now + RETRY, "reload", ("node", name))
            return
        now = sn.local(sim.now)
        if params == engine.params:
            self._unchanged(name, now)
            return
        self._expect_stops(name, params.groups)
        sim.trace.append(f"{sim.now:.6f} {name} RELOAD")
        self.config[name] = self.files
        sim._carry_out(name, engine.reconfigure(params, engine.keyring, engine.link_ids, now))
        self.stats["reload"] += 1

    def _unchanged(self, name: str, now: float) -> None:
        sim = self.sim
        sim._feed(name, Tick())
        engine = sim.nodes[name].engine
        if engine is None:
            return
        before = engine.snapshot()
        outputs = engine.reconfigure(engine.params, engine.keyring, engine.link_ids, now)
        if outputs or engine.snapshot() != before:
            sim._violation(f"{name}: reloading unchanged files gave {outputs}")
        self.stats["same"] += 1

    def _expect_stops(self, name: str, new: tuple[GroupSpec, ...]) -> None:
        """Count the StopGroups of the groups this reload removes where they run."""
        engine = self.sim.nodes[name].engine
        assert engine is not None
        keys = {g.key for g in new}
        for k in [k for k in self.stops if k[0] == name and k[1] in keys]:
            del self.stops[k]  # put back: stops are its own business again
        for group in engine.snapshot().groups:
            if group.key not in keys and not group.removed and group.local_state in BUSY:
                self.stops[(name, group.key)] = 0
                self.stats["removed_busy"] += 1


def _redefined(group: GroupSpec) -> GroupSpec:
    resources = group.resources
    if EXTRA in resources:
        return replace(group, resources=tuple(r for r in resources if r != EXTRA))
    return replace(group, resources=(*resources, EXTRA))
