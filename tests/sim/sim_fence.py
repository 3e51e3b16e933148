"""Fencing in the simulator: fence devices, machine power, hung daemons (issue #13).

Owns `SimFencing`, what fencing adds to a simulated cluster (sim_cluster.py calls it from a
few hooks; docs/core.md §Simulator states the properties):

- **Configuration**: in half the seeds `Params.fencing` is on, with a head start
  (`fence_delay`) of 0, 2, 5 or 10 s; each node gets a fence device of its own kind.
- **Devices** (the fence driver and its agent, as the core sees them): `ok` answers in
  0.1-2 s, `slow` in 2-10 s, `flaky` fails half its attempts, `fail` always refuses, `hang`
  never answers and the driver reports `FenceFailed("timed out")` after FENCE_TIMEOUT. After
  healing every device works (like the agents). A device acts only if the machine running
  its agent was not itself reset meanwhile; its result reaches the daemon incarnation that
  asked, if it still runs.
- **Power**: a successful fence powers the target off. Unlike a crash, nothing is left
  running: its daemon, its agents and every resource it ran are gone (the ledger forgets
  them, results of agents started before are void). It powers on POWER_ON later (or at
  healing) and its daemon boots, with a new generation and its state dir intact.
- **Freezes** (a hung daemon: a stuck kernel, a long SIGSTOP): the daemon processes nothing
  for the fault's duration while its resources keep running; what reaches it meanwhile
  (frames, agents' and devices' results, commands, timers) is handled in order when it
  resumes, as the kernel's buffers would deliver it.
- **fence-ack**: the administrator, asked by a degraded status, makes sure the peer is down
  (switches it off by hand) and runs `twinbeat fence-ack` on the waiting node.
- **Safety with fencing**: no group may run on two machines at any instant, whatever the
  links — held, a failed stop (critical) and a crashed daemon's leftovers all count. There
  is no exemption window: that is what fencing buys. Without fencing, a frozen daemon counts
  as not running for sim_cluster's exemption window (a hang is a partition of its own).

Randomness for the model comes from its own PRNG seeded from the run's seed, so that the
network and fault draws of the run are those of its seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twinbeat.core import FenceAcknowledged, FenceFailed, PeerFenced, Tick

if TYPE_CHECKING:
    from sim_cluster import Simulation

FENCE_TIMEOUT = 15.0  # the driver's timeout on a device that does not answer
SLOW_MAX = 10.0  # the slowest device that does answer
POWER_ON = (2.0, 5.0)  # from a power-off to the daemon's boot (BIOS, kernel, systemd)
DELAYS = (0.0, 2.0, 5.0, 10.0)  # head starts drawn for the seeds with fencing
KINDS = ("ok", "ok", "slow", "flaky", "fail", "hang")
RUNNING = ("held", "critical", "leftover")  # ledger states: the group's resources run there


def attempt(kind: str, rng: random.Random, healed: bool) -> tuple[float, bool, str]:
    """One fence attempt of a device of `kind`: (duration, success, reason if it failed)."""
    if healed or kind == "ok":
        return rng.uniform(0.1, 2.0), True, ""
    if kind == "slow":
        return rng.uniform(2.0, SLOW_MAX), True, ""
    if kind == "flaky":
        return rng.uniform(0.1, 3.0), rng.random() < 0.5, "device error"
    if kind == "fail":
        return rng.uniform(0.1, 2.0), False, "device refused"
    return FENCE_TIMEOUT, False, "timed out"


@dataclass(frozen=True)
class Attempt:
    """A fence attempt under way: who asked (which daemon incarnation, on which run of its
    machine), against whom, and how it will end."""

    issuer: str
    target: str
    incarnation: int
    epoch: int
    ok: bool
    reason: str


@dataclass
class Frozen:
    """A hung daemon: which incarnation, which freeze, and what waits for it."""

    incarnation: int
    token: int
    since: float
    backlog: list[tuple[str, Any]] = field(default_factory=list)


class SimFencing:
    """The fencing half of a `Simulation`. See the module docstring."""

    def __init__(self, sim: Simulation, names: tuple[str, ...]) -> None:
        self.sim = sim
        self.rng = random.Random(sim.seed * 6271 + 7)
        r = self.rng
        self.enabled = r.random() < 0.5
        self.delay = r.choice(DELAYS)
        self.devices = {n: r.choice(KINDS) for n in names}
        self.powered = {n: True for n in names}
        self.epoch = {n: 0 for n in names}  # machine resets so far
        self.void_upto = {n: 0 for n in names}  # agents of these incarnations died with it
        self.frozen: dict[str, Frozen] = {}
        self.thawed: dict[str, list[tuple[float, float]]] = {n: [] for n in names}  # freezes
        self._tokens = 0

    def describe(self) -> str:
        if not self.enabled:
            return "fencing=off"
        return f"fencing=on delay={self.delay:g} devices={self.devices}"

    @staticmethod
    def extra_bound(rejoin: float) -> float:
        """What fencing may add to the liveness bound after healing: a slow fence still in
        flight (one that fails changes nothing: the peer is heard again), the target powering
        on, and `rejoin`: its boot, and its groups moving back to it (a stop, then a start)."""
        return SLOW_MAX + POWER_ON[1] + rejoin

    # ------------------------------------------------------------------ devices and power

    def fence(self, issuer: str, target: str) -> None:
        """FencePeer: the issuer's device goes to work."""
        sim = self.sim
        kind = self.devices[issuer]
        took, ok, reason = attempt(kind, self.rng, sim.now >= sim.heal_at)
        sim.trace.append(f"{sim.now:.6f} {issuer} FENCE {target} with a {kind} device")
        sim._push(sim.now + took, "fence_done", Attempt(
            issuer, target, sim.incarnation[issuer], self.epoch[issuer], ok, reason))

    def done(self, a: Attempt) -> None:
        """The device finished (or the driver gave up on it)."""
        sim = self.sim
        if a.epoch != self.epoch[a.issuer]:
            return  # the agent died with the machine running it: nothing happened
        if a.ok:
            self.power_off(a.target, why=f"fenced by {a.issuer}")
        if a.incarnation == sim.incarnation[a.issuer]:
            result = PeerFenced(a.target) if a.ok else FenceFailed(a.target, a.reason)
            sim._feed(a.issuer, result)

    def power_off(self, name: str, why: str) -> None:
        sim = self.sim
        sim.trace.append(f"{sim.now:.6f} {name} POWER OFF ({why})")
        if sim.nodes[name].engine is not None:
            sim._crash(name)
        sim.ledger[name].clear()  # nothing runs on a machine that is off
        sim.arp.crashed(name)
        self.frozen.pop(name, None)
        self.epoch[name] += 1
        self.void_upto[name] = sim.incarnation[name]
        if self.powered[name]:
            self.powered[name] = False
            sim._push(sim.now + self.rng.uniform(*POWER_ON), "power_on", name)
        sim.physical.changed()  # its NICs go dark, its DTR drops

    def power_on(self, name: str) -> None:
        if not self.powered[name]:
            self.powered[name] = True
            self.sim.trace.append(f"{self.sim.now:.6f} {name} POWER ON")
            self.sim.physical.changed()
            if self.sim.nodes[name].engine is None:
                self.sim._boot(name)

    def void(self, name: str, inc: int) -> bool:
        """An agent's result from before the machine was switched off: it never happened."""
        return inc <= self.void_upto[name]

    # ------------------------------------------------------------------ freezes

    def freeze(self, name: str, dur: float) -> None:
        sim = self.sim
        if sim.nodes[name].engine is None or name in self.frozen:
            return
        self._tokens += 1
        self.frozen[name] = Frozen(sim.incarnation[name], self._tokens, sim.now)
        sim.trace.append(f"{sim.now:.6f} {name} FREEZE {dur:.3f}")
        sim._push(min(sim.now + dur, sim.heal_at), "thaw", (name, self._tokens))

    def frozen_within(self, name: str, start: float, end: float) -> float:
        """How long `name`'s daemon was frozen between `start` and `end`: time its core did not
        watch, which it does not count as its peer's silence (core/pause.py)."""
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.thawed[name])

    def is_frozen(self, name: str) -> bool:
        f = self.frozen.get(name)
        return f is not None and f.incarnation == self.sim.incarnation[name]

    def hold(self, name: str, kind: str, payload: Any) -> bool:
        """While the daemon is frozen, what reaches it waits (True: held)."""
        if not self.is_frozen(name):
            return False
        self.frozen[name].backlog.append((kind, payload))
        return True

    def thaw(self, name: str, token: int) -> None:
        f = self.frozen.get(name)
        if f is None or f.token != token:
            return
        del self.frozen[name]
        sim = self.sim
        if f.incarnation != sim.incarnation[name] or sim.nodes[name].engine is None:
            return
        sim.trace.append(f"{sim.now:.6f} {name} THAW ({len(f.backlog)} waiting)")
        self.thawed[name].append((f.since, sim.now))
        for kind, payload in f.backlog:
            if kind == "frame":
                sim._receive(name, *payload)
            else:
                sim._feed(name, payload)
        sim._feed(name, Tick())

    # ------------------------------------------------------------------ faults and healing

    def admin_ack(self, name: str) -> None:
        """The administrator answers a degraded status: switches the peer off by hand, then
        runs `twinbeat fence-ack PEER` on `name`."""
        sim = self.sim
        engine = sim.nodes[name].engine
        if not self.enabled or engine is None or self.is_frozen(name):
            return
        snap = engine.snapshot()
        if snap.fencing is None or not snap.fencing.degraded or snap.peers[0].alive:
            return
        peer = snap.fencing.peer
        self.power_off(peer, why="switched off by the administrator")
        sim._feed(name, FenceAcknowledged(peer))

    def heal(self) -> None:
        """Healing: every machine on, no daemon frozen (sim_cluster then boots them all)."""
        for name, f in list(self.frozen.items()):
            self.thaw(name, f.token)
        for name in self.powered:
            self.powered[name] = True

    # ------------------------------------------------------------------ the property

    def check_safety(self) -> None:
        """With fencing: never two machines running a group, at any instant."""
        sim = self.sim
        a, b = sim.nodes
        for g in sim.groups:
            states = {n: sim.ledger[n].get(g.key) for n in (a, b)}
            if states[a] in RUNNING and states[b] in RUNNING:
                sim._violation(f"group {g.key} held by both {a} and {b} with fencing "
                               f"configured (ledger {states})")
