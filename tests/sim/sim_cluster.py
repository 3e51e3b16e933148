"""A small VOPR over `twinbeat.engine`: two nodes, a fake network, fake agents, one seeded PRNG.

Owns: `Simulation` — the event loop (a heap ordered by simulated time), per-node clocks with
drift, fake resource agents (slow, sometimes failing), node crashes and restarts, the fault
schedule, the resource ledger, and the property checks. Each node runs the production
`Engine` (core + wire translation): heartbeats leave it as signed bytes per link, cross the
fake network as bytes, and enter the other engine through the same `frame_event` the daemon
calls. docs/core.md §Simulator states the properties and bounds; this docstring summarises:

- Ledger: node n holds group k from the instant n's engine issues StartGroup(k) until the
  agent's GroupStopped (or GroupStartFailed, whose driver already rolled back) is delivered.
  A stop that failed keeps the group held ("critical"). When a daemon crashes, whatever it
  held stays running ("leftover") until its next incarnation stops it.
- Safety, checked after every event: no group is held by both running daemons when they have
  been connected (some link working both ways, see sim_network) for the last
  `exempt_window` seconds; leftovers and critical groups are exempt. A node never issues
  StartGroup while it holds leftovers, or while its ping nodes are unreachable (as last
  reported to its daemon: a frozen one learns late).
- Hostile network: during the fault phase an adversary replays frames it captured earlier,
  on the link they crossed or on the other one, across the peer's restarts, and at a node
  that has just restarted. Nothing it sends may change who holds what (the safety check
  covers it), nor make a dead peer look alive (no ghost: checked after every frame).
- Restarts and rollbacks: daemons come back with a new generation, or a lower one (state
  dir lost or restored), with a random timestamp origin and sometimes a first sequence near
  2^32; clocks start anywhere in 0..50 days or just before 2^31/2^32 ms. A node reports a
  peer's sequence restart or generation going backwards only when it really happened.
- Monitoring (sim_monitor.py, hooked in `_act`, `_deliver_agent`, the liveness check and the
  "monitor" events): the monitor driver's failures, restarts and clears, and the properties
  of the core's restart-or-give-up rules; a group given up by both nodes may end with none.
- Liveness: after `heal_at` every fault is repaired and every daemon running; by
  `heal_at + bound` each group (without a critical stop) has exactly one holder, no core
  is mid-transition, and the client's ARP entry for the group's address is the holder's
  (sim_arp: whoever sent the last gratuitous ARP; the holder's `Announce` must have the
  last word after a false takeover or a split brain).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sim_arp import ArpCache, Garp
from sim_fence import SimFencing
from sim_monitor import Monitor
from sim_network import LINKS, MAX_CONSECUTIVE_LOSS, MAX_DELAY, FakeNetwork
from sim_physical import SimPhysical
from sim_reload import Reloads

from twinbeat.core import (
    Announce,
    FencePeer,
    GroupRestartFailed,
    GroupSpec,
    GroupStarted,
    GroupStartFailed,
    GroupStopFailed,
    GroupStopped,
    LeftoversFound,
    Log,
    Params,
    PingReachability,
    RecordPeerGeneration,
    ShutdownComplete,
    ShutdownRequested,
    StandbyRequested,
    Started,
    StartGroup,
    StatusChanged,
    StopGroup,
    TakeoverRequested,
    Tick,
)
from twinbeat.core.groups import BACKOFF_CAP
from twinbeat.engine import Engine, Output, Transmit
from twinbeat.wire import Keyring

NAMES = ("alpha", "bravo")
KEYRING = Keyring({1: ("sha256", b"simulated-cluster-key-0123456789")}, 1)
LINK_IDS = {LINKS[0]: 0, LINKS[1]: 0x80}
FINGERPRINT = 0x7B1E
KEEPALIVE = 1.0
DEADTIME = 5.0
WARNTIME = 3.0
INITDEAD = 10.0
AGENT_MAX = 2.0  # slowest fake agent answer (start or stop)
PROBE_MAX = 0.5  # slowest leftover probe at start-up
MAX_DRIFT = 0.005  # clocks run up to 0.5 % fast or slow
FAULT_PHASE = 90.0
CAPTURE_MAX = 200  # frames the adversary keeps for replaying
WRAP_MS = 2**32  # the wire's u32 millisecond timestamps wrap here (49.7 days)
U32 = 2**32 - 1  # ... and its sequence numbers after this one
# A node whose peer is down may still see it alive this long after it went down: deadtime
# plus grace after the last frame it sent (up to 0.3 s in flight), plus the echo window
# (2 deadtime) for a frame that was sent but held back (the adversary's undelivered
# captures), plus drift.
GHOST_BOUND = 3 * DEADTIME + 0.05 + 0.3 + 0.5


class PropertyViolationError(AssertionError):
    """A simulated run broke a property; the message carries the replay command."""


@dataclass
class SimNode:
    name: str
    offset: float
    drift: float
    generation: int = 1
    engine: Engine | None = None  # None while the daemon is down
    ping: bool = True
    ping_told: bool = True  # the last PingReachability its daemon took in (a frozen one lags)
    tick_token: int = 0
    down_since: float = 0.0  # when the daemon last went down (crash or exit)
    booted_at: float = 0.0  # when the running daemon started
    peer_generation: int | None = None  # the state dir's record (RecordPeerGeneration)
    generations: list[int] = field(default_factory=list)  # of every incarnation, in order
    status_said: str = ""  # the running daemon's last StatusChanged

    def local(self, t: float) -> float:
        return self.offset + t * (1.0 + self.drift)

    def sim_time(self, local: float) -> float:
        t = (local - self.offset) / (1.0 + self.drift)
        while self.local(t) < local:
            t = math.nextafter(t, math.inf)
        return t


@dataclass
class Simulation:
    seed: int
    fault_phase: float = FAULT_PHASE
    trace: list[str] = field(default_factory=list)
    reloads: bool = False  # the files change and the daemons reload them (sim_reload.py)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        r = self.rng
        self.auto_failback = r.random() < 0.5
        self.ping_configured = r.random() < 0.3
        self.groups = tuple(
            GroupSpec(key=f"198.18.1.{100 + i}", primary=NAMES[i % 2])
            for i in range(r.randint(1, 3))
        )
        # The cadence (own PRNG): in some runs every timer fires late, by up to `stretch`
        # keepalives, as on a loaded machine; heartbeats on change are not delayed. No safety
        # argument may depend on the periodic cadence (docs/core.md §Simulator).
        self._cadence = random.Random(self.seed * 3571 + 5)
        self.stretch = self._cadence.choice((0.0, 0.0, 0.25, 0.5))
        warmup = (MAX_CONSECUTIVE_LOSS + 1) * KEEPALIVE * (1 + self.stretch) + MAX_DELAY
        self.net = FakeNetwork(r, NAMES, warmup=warmup)
        self.nodes = {
            n: SimNode(n, offset=_clock_offset(r), drift=r.uniform(-MAX_DRIFT, MAX_DRIFT))
            for n in NAMES
        }
        self.ledger: dict[str, dict[str, str]] = {n: {} for n in NAMES}
        self.monitor = Monitor(self, self.groups, agent_max=AGENT_MAX, keepalive=KEEPALIVE)
        self.groups = self.monitor.groups  # with their resources
        self.reload = Reloads(self, self.reloads)
        if self.reloads:
            self.monitor.off()  # its reference counts follow one configuration per run
        self.fail_start = r.choice((0.0, 0.1, 0.3))
        self.fail_stop = r.choice((0.0, 0.0, 0.02))
        self.replay_rate = r.choice((0.0, 0.05, 0.3))
        self.captured: list[tuple[str, bytes]] = []
        self.heal_at = self.fault_phase
        self.bound = (INITDEAD + BACKOFF_CAP * DEADTIME + 4 * KEEPALIVE + 3 * AGENT_MAX
                      + PROBE_MAX + self.monitor.bound_extra)
        self.exempt_window = DEADTIME + 2 * AGENT_MAX + 2 * KEEPALIVE
        self.end = self.heal_at + self.bound
        self.now = 0.0
        self._heap: list[tuple[float, int, str, Any]] = []
        self._counter = 0
        self.last_cut = 0.0
        self.incarnation = {n: 0 for n in NAMES}
        self.arp = ArpCache(self.seed)
        self.fence = SimFencing(self, NAMES)  # sim_fence.py: devices, power, freezes
        self.physical = SimPhysical(self, NAMES, DEADTIME)  # sim_physical.py: carrier
        if self.fence.enabled:
            self.bound += self.fence.extra_bound(PROBE_MAX + 2 * KEEPALIVE + 2 * AGENT_MAX)
            self.end = self.heal_at + self.bound

    # ------------------------------------------------------------------ plumbing

    def _push(self, t: float, kind: str, payload: Any) -> None:
        self._counter += 1
        heapq.heappush(self._heap, (max(t, self.now), self._counter, kind, payload))

    def _params(self, sn: SimNode) -> Params:
        r = self.rng
        # Like the daemon: a random timestamp origin per run (or none, so that the clock
        # offsets near 2^31 and 2^32 ms show through), and in some runs a first sequence
        # number just below 2^32, so that the sender wraps during the run.
        origin = r.getrandbits(32) if r.random() < 0.5 else 0
        first_sequence = 1 if r.random() < 0.5 else U32 - r.randrange(0, 300)
        return Params(
            node=sn.name, peer=_other(sn.name), links=LINKS, keepalive=KEEPALIVE,
            deadtime=DEADTIME, warntime=WARNTIME, initdead=INITDEAD,
            auto_failback=self.auto_failback, groups=self.reload.groups_of(sn.name),
            fingerprint=self.reload.fingerprint_of(sn.name) or FINGERPRINT,
            generation=sn.generation, ping_configured=self.ping_configured,
            peer_generation=sn.peer_generation, timestamp_origin=origin,
            first_sequence=first_sequence, migration_threshold=self.monitor.threshold,
            failure_timeout=self.monitor.timeout, fencing=self.fence.enabled,
            fence_delay=self.fence.delay,
        )

    def _boot(self, name: str) -> None:
        sn = self.nodes[name]
        self.reload.booting(name)
        sn.engine = Engine(self._params(sn), KEYRING, LINK_IDS, sn.local(self.now))
        sn.status_said = ""
        sn.booted_at = self.now
        sn.generations.append(sn.generation)
        self.incarnation[name] += 1
        self._replays_at_boot(name)
        self._feed(name, Started())
        self.physical.booted(name)
        leftovers = tuple(k for k, s in self.ledger[name].items() if s == "leftover")
        delay = self.rng.uniform(0.0, PROBE_MAX)
        self._push(self.now + delay, "agent", (name, self.incarnation[name],
                                               LeftoversFound(leftovers)))
        if self.ping_configured:
            self._feed(name, PingReachability(sn.ping))

    def _crash(self, name: str) -> None:
        sn = self.nodes[name]
        if sn.engine is None:
            return
        self.trace.append(f"{self.now:.6f} {name} CRASH")
        sn.engine = None
        sn.down_since = self.now
        self.arp.crashed(name)
        for k in self.ledger[name]:
            self.ledger[name][k] = "leftover"
        sn.generation += 1
        self.physical.changed()  # its serial port closed: with HUPCL, DTR drops

    def _feed(self, name: str, event: Any) -> None:
        sn = self.nodes[name]
        if sn.engine is not None and not self.fence.hold(name, "event", event):
            if isinstance(event, PingReachability):
                sn.ping_told = event.reachable
            self.physical.feeding(name, event)
            self._carry_out(name, sn.engine.feed(event, sn.local(self.now)))
            self.physical.fed(name, event)

    def _receive(self, name: str, link: str, data: bytes) -> None:
        sn = self.nodes[name]
        if sn.engine is not None and not self.fence.hold(name, "frame", (link, data)):
            self.physical.receiving = (name, link)
            self._carry_out(name, sn.engine.received(link, data, sn.local(self.now)))
            self.physical.receiving = None
            self._check_no_ghost(name)
            self.physical.check_frame(name)

    def _carry_out(self, name: str, outputs: list[Output]) -> None:
        sn = self.nodes[name]
        for output in outputs:
            self._act(name, output)
            if isinstance(output, StatusChanged):
                sn.status_said = output.text
        if sn.engine is not None and sn.engine.node.status() != sn.status_said:
            # The core builds its status line only when it may have moved (issue #17).
            self._violation(f"{name}'s status line is stale: said {sn.status_said!r}, "
                            f"is {sn.engine.node.status()!r}")
        if any(isinstance(o, ShutdownComplete) for o in outputs):
            self._crash(name)  # the daemon exits; it comes back later with a new generation
            self._push(min(self.now + self.rng.uniform(0, 2 * DEADTIME), self.heal_at),
                       "boot", name)
            return
        assert sn.engine is not None
        sn.tick_token += 1
        deadline = sn.engine.next_deadline()
        if deadline is not None:
            late = self._cadence.uniform(0, self.stretch * KEEPALIVE) if self.stretch else 0.0
            self._push(max(sn.sim_time(deadline), self.now) + late, "tick",
                       (name, sn.tick_token))

    def _act(self, name: str, output: Output) -> None:
        if isinstance(output, Transmit):
            self._send(name, output)
            return
        self.trace.append(f"{self.now:.6f} {name} {output!r}")
        self.monitor.act(name, output)
        self.physical.check_log(name, output)
        if isinstance(output, RecordPeerGeneration):
            self.nodes[name].peer_generation = output.generation  # the state dir survives
        elif isinstance(output, Log):
            self._check_restart_report(name, output.message)
        elif isinstance(output, StartGroup):
            self._start_group(name, output.key)
        elif isinstance(output, StopGroup):
            self.reload.stopped(name, output.key)
            fail = self.now < self.heal_at and self.rng.random() < self.fail_stop
            ev = GroupStopFailed(output.key, "sim") if fail else GroupStopped(output.key)
            self._agent_answers(name, ev)
        elif isinstance(output, Announce):
            self._garps(self.arp.announced(name, output.key, self.now))
        elif isinstance(output, FencePeer):
            self.fence.fence(name, output.peer)

    def _garps(self, garps: list[Garp]) -> None:
        for t, payload in garps:
            self._push(t, "garp", payload)

    def _start_group(self, name: str, key: str) -> None:
        if any(s == "leftover" for s in self.ledger[name].values()):
            self._violation(f"{name} started {key} while still holding leftovers")
        if self.ping_configured and not self.nodes[name].ping_told:
            self._violation(f"{name} started {key} while isolated (no ping node)")
        self.reload.started(name, key)
        self.ledger[name][key] = "held"
        self._garps(self.arp.started(name, key, self.now))
        fail = self.now < self.heal_at and self.rng.random() < self.fail_start
        # Where stops can fail, so can the rollback of a failed start: part of the group
        # then stays up here, exactly like a failed stop.
        stuck = fail and self.rng.random() < 10 * self.fail_stop
        ev = GroupStartFailed(key, "sim", rolled_back=not stuck) if fail else GroupStarted(key)
        self._agent_answers(name, ev)

    def _agent_answers(self, name: str, ev: Any) -> None:
        when = self.now + self.rng.uniform(0.01, AGENT_MAX)
        self._push(when, "agent", (name, self.incarnation[name], ev))

    def _send(self, src: str, tx: Transmit) -> None:
        dst = _other(src)
        for link, data in tx.payloads:
            for t in self.net.transmit(src, dst, link, self.now):
                self._push(t, "frame", (dst, link, data))
            self._capture(src, link, data)

    def _deliver_agent(self, name: str, inc: int, ev: Any) -> None:
        if self.fence.void(name, inc):
            return  # the machine was switched off meanwhile: the agent died with it
        if inc != self.incarnation[name] and self.nodes[name].engine is not None:
            # A dead daemon's agent outliving the next daemon's start: systemd kills what is
            # left in the unit's cgroup before it restarts the daemon (KillMode=mixed), so a
            # stop begun before a crash cannot stop what the next incarnation started.
            return
        # The agent finished: its effect on the machine stands even if the daemon died.
        key = getattr(ev, "key", None)
        if isinstance(ev, GroupStopped | GroupStopFailed | GroupStartFailed | GroupRestartFailed):
            self.arp.silenced(name, ev.key)
        stuck = isinstance(ev, GroupStopFailed) or (
            isinstance(ev, GroupStartFailed | GroupRestartFailed) and not ev.rolled_back
        )
        if stuck:
            self.ledger[name][ev.key] = "critical"
        elif isinstance(ev, GroupStopped | GroupStartFailed | GroupRestartFailed) and key:
            self.ledger[name].pop(key, None)
        if inc != self.incarnation[name] or self.nodes[name].engine is None:
            if stuck:
                self.ledger[name][ev.key] = "leftover"
            return
        self._feed(name, ev)

    # ------------------------------------------------------------------ the adversary

    def _capture(self, src: str, link: str, data: bytes) -> None:
        if self.replay_rate and self.now < self.heal_at:
            if len(self.captured) >= CAPTURE_MAX:
                self.captured[self.rng.randrange(CAPTURE_MAX)] = (src, link, data)
            else:
                self.captured.append((src, link, data))

    def _replay(self, dst: str | None = None) -> None:
        """Send an old frame again, to either node (or `dst`, then one of its peer's), on its
        own link or the other one."""
        frames = [c for c in self.captured if dst is None or c[0] != dst]
        if not frames:
            return
        _src, link, data = self.rng.choice(frames)
        if self.rng.random() < 0.3:
            link = LINKS[1] if link == LINKS[0] else LINKS[0]
        dst = dst or self.rng.choice(NAMES)
        self.trace.append(f"{self.now:.6f} REPLAY to {dst} on {link}")
        self._receive(dst, link, data)

    def _replays_at_boot(self, name: str) -> None:
        """The adversary's best moment: a node that just restarted knows nothing of its peer's
        sequence numbers. Replay the peer's old frames at it, every keepalive, until initdead."""
        if not self.replay_rate or self.now >= self.heal_at or self.rng.random() < 0.5:
            return
        t = self.now + self.rng.uniform(0, KEEPALIVE)
        while t < min(self.now + INITDEAD + DEADTIME, self.heal_at):
            self._push(t, "replay_to", name)
            t += self.rng.uniform(0.2, KEEPALIVE)

    # ------------------------------------------------------------------ faults

    def _schedule_faults(self) -> None:
        self.monitor.schedule()
        self.reload.schedule()
        self.physical.schedule()
        r = self.rng
        t = r.uniform(0, 5)
        while t < self.heal_at:
            self._push(t, "fault", None)
            t += r.expovariate(1 / 4.0)
        if self.replay_rate:
            t = r.uniform(0, 1)
            while t < self.heal_at:
                self._push(t, "replay", None)
                t += r.expovariate(self.replay_rate * 10)

    def _fault(self) -> None:
        r = self.rng
        a = r.choice(NAMES)
        kind = r.choice(tuple(self._faults))
        dur = r.choice((r.uniform(0.5, DEADTIME), r.uniform(DEADTIME, 4 * DEADTIME)))
        self.trace.append(f"{self.now:.6f} FAULT {kind} {a} {dur:.3f}")
        self._faults[kind](self, a, dur)

    def _cut(self, links: tuple[str, ...], dur: float) -> None:
        a, b = NAMES
        for ln in links:
            self.net.set_cut(a, b, ln, True, self.now)
            self._push(min(self.now + dur, self.heal_at), "restore", ln)

    def _crash_for(self, a: str, dur: float) -> None:
        self._crash(a)
        self._push(min(self.now + dur, self.heal_at), "boot", a)

    def _rollback(self, a: str, dur: float) -> None:
        """The daemon dies and comes back with a lower generation: its state dir was lost
        (generation 1 again) or restored from a snapshot (a generation or a few back)."""
        sn = self.nodes[a]
        if sn.engine is None:
            return
        self._crash(a)
        lost = self.rng.random() < 0.5
        sn.generation = 1 if lost else max(1, sn.generation - self.rng.randint(2, 4))
        if lost:
            sn.peer_generation = None  # the whole state dir is gone
        self.trace.append(f"{self.now:.6f} {a} ROLLBACK to generation {sn.generation}")
        self._push(min(self.now + dur, self.heal_at), "boot", a)

    def _ping_flap(self, a: str, _dur: float) -> None:
        if self.ping_configured:
            self.nodes[a].ping = not self.nodes[a].ping
            self._feed(a, PingReachability(self.nodes[a].ping))

    def _lossy(self, a: str, _dur: float) -> None:
        loss = self.rng.choice((0.0, 0.1, 0.5))
        for (src, _dst, _ln), m in self.net.models.items():
            if src == a:
                m.loss = loss

    _faults: ClassVar[dict[str, Callable[[Simulation, str, float], None]]] = {
        "udp": lambda s, _a, d: s._cut((LINKS[0],), d),
        "serial": lambda s, _a, d: s._cut((LINKS[1],), d),
        "both": lambda s, _a, d: s._cut(LINKS, d),
        "crash": _crash_for,
        "rollback": _rollback,
        "ping": _ping_flap,
        "standby": lambda s, a, _d: s._feed(a, StandbyRequested(_which(s.rng))),
        "takeover": lambda s, a, _d: s._feed(a, TakeoverRequested(_which(s.rng))),
        "shutdown": lambda s, a, _d: s._feed(a, ShutdownRequested()),
        "loss": _lossy,
        "freeze": lambda s, a, d: s.fence.freeze(a, d),
        "fence_ack": lambda s, a, _d: s.fence.admin_ack(a),
    }

    def _heal(self) -> None:
        self.trace.append(f"{self.now:.6f} HEAL")
        self.net.heal(self.now)
        self.fence.heal()
        self.physical.heal()
        for name, sn in self.nodes.items():
            was_isolated = not sn.ping
            sn.ping = True
            if sn.engine is None:
                self._boot(name)
            elif self.ping_configured and was_isolated:
                self._feed(name, PingReachability(True))
        self.reload.heal()

    # ------------------------------------------------------------------ properties

    def _violation(self, what: str) -> None:
        raise PropertyViolationError(
            f"sim seed {self.seed} (auto_failback={self.auto_failback}, "
            f"ping={self.ping_configured}, replay={self.replay_rate}, stretch={self.stretch}, "
            f"{self.fence.describe()}, {self.physical.describe()}) at t={self.now:.3f}: "
            f"{what}\nreplay: pytest tests/sim --sim-seed {self.seed}"
        )

    def _running(self, name: str) -> bool:
        return self.nodes[name].engine is not None and not self.fence.is_frozen(name)

    def _check_safety(self) -> None:
        if self.fence.enabled:
            self.fence.check_safety()  # no exemption window: sim_fence.py
            return
        a, b = NAMES
        if not self.net.working(a, b, self.now) or not self._running(a) or not self._running(b):
            self.last_cut = self.now
            return
        if self.now <= self.last_cut + self.exempt_window:
            return
        for g in self.groups:
            if self.ledger[a].get(g.key) == "held" and self.ledger[b].get(g.key) == "held":
                self._violation(f"group {g.key} held by both {a} and {b} while connected")

    def _check_no_ghost(self, name: str) -> None:
        """A replay must never make a dead peer look alive: not at all to a node that started
        after the peer went down, and not beyond GHOST_BOUND of its own running time to one
        that saw it go."""
        peer = self.nodes[_other(name)]
        if peer.engine is not None:
            return
        sn = self.nodes[name]
        snap = sn.engine.snapshot() if sn.engine is not None else None
        if snap is None or not snap.peers[0].alive:
            return
        if sn.booted_at > peer.down_since:
            self._violation(f"{name} (started at {sn.booted_at:.3f}) sees {peer.name} alive, "
                            f"which has been down since {peer.down_since:.3f}")
        # As of the core's own time: a daemon resuming from a freeze shows its old view until
        # it is fed (a frame the wire refuses feeds nothing).
        # A freeze of this node meanwhile is not the peer's silence (core/pause.py).
        bound = GHOST_BOUND + self.fence.frozen_within(name, peer.down_since, self.now)
        if sn.sim_time(snap.now) > peer.down_since + bound:
            self._violation(f"{name} still sees {peer.name} alive {bound:.1f}s after it "
                            f"went down at {peer.down_since:.3f}")

    def _check_restart_report(self, name: str, message: str) -> None:
        """A node says its peer's sequence numbers started again, or its generation went
        backwards, only when that peer really came back with the same or a lower generation
        (a spurious one means the sequence or generation arithmetic is wrong)."""
        peer = self.nodes[_other(name)]
        gens = peer.generations
        if "sequence numbers of generation" in message and gens.count(gens[-1]) < 2:
            self._violation(f"{name} reports a sequence restart of {peer.name}, whose "
                            f"generations were {gens}: {message}")
        went_back = any(b < a for a, b in itertools.pairwise(gens))
        if "generation went backwards" in message and not went_back:
            self._violation(f"{name} reports a generation going backwards for {peer.name}, "
                            f"whose generations were {gens}: {message}")

    def _check_liveness(self) -> None:
        held: dict[str, str] = {}
        for g in self.reload.files:
            states = {n: self.ledger[n].get(g.key) for n in NAMES}
            if "critical" in states.values():
                continue
            holders = [n for n, s in states.items() if s == "held"]
            if not holders and self.monitor.failed_on_both(g.key):
                continue  # failed on both nodes: it stays stopped (sim_monitor)
            if len(holders) != 1:
                self._violation(f"{self.bound:.0f}s after healing, group {g.key} has holders "
                                f"{holders} (ledger {states})")
            if any(s == "leftover" for s in states.values()):
                self._violation(f"leftovers of {g.key} still running after healing")
            held[g.key] = holders[0]
        for wrong in self.arp.wrong(held):
            self._violation(f"{self.bound:.0f}s after healing, {wrong}")
        self.monitor.check_end(held)
        self.reload.check_end(held)
        for n in NAMES:
            engine = self.nodes[n].engine
            assert engine is not None
            for gs in engine.snapshot().groups:
                if gs.local_state in ("claiming", "starting", "stopping", "restarting",
                                      "giving_up"):
                    self._violation(f"{n} still {gs.local_state} {gs.key} after healing")

    # ------------------------------------------------------------------ run

    def run(self) -> list[str]:
        for name in NAMES:
            self._push(self.rng.uniform(0, 2), "boot", name)
        self._schedule_faults()
        self._push(self.heal_at, "heal", None)
        while self._heap:
            t, _, kind, payload = heapq.heappop(self._heap)
            if t > self.end:
                break
            self.now = t
            self._dispatch(kind, payload)
            self._check_safety()
        self.now = self.end
        self._check_liveness()
        return self.trace

    def _dispatch(self, kind: str, payload: Any) -> None:
        self._handlers[kind](self, payload)

    def _tick(self, payload: tuple[str, int]) -> None:
        name, token = payload
        if token == self.nodes[name].tick_token:
            self._feed(name, Tick())

    def _boot_if_down(self, name: str) -> None:
        if self.nodes[name].engine is None and self.fence.powered[name]:
            self._boot(name)

    def _replay_if_faulty(self, _payload: None) -> None:
        if self.now < self.heal_at:
            self._replay()

    _handlers: ClassVar[dict[str, Callable[[Simulation, Any], None]]] = {
        "frame": lambda s, p: s._receive(*p),
        "tick": _tick,
        "agent": lambda s, p: s._deliver_agent(*p),
        "boot": _boot_if_down,
        "restore": lambda s, ln: s.net.set_cut(*NAMES, ln, False, s.now),
        "fault": lambda s, _p: s._fault(),
        "replay": _replay_if_faulty,
        "replay_to": lambda s, name: s._replay(name) if s.now < s.heal_at else None,
        "heal": lambda s, _p: s._heal(),
        "garp": lambda s, p: s.arp.garp(*p, s.now),
        "monitor": lambda s, p: s.monitor.handle(p),
        "fence_done": lambda s, p: s.fence.done(p),
        "power_on": lambda s, name: s.fence.power_on(name),
        "thaw": lambda s, p: s.fence.thaw(*p),
        "reload": lambda s, p: s.reload.handle(p),
        "carrier": lambda s, p: s.physical.deliver(p),
        "physical": lambda s, _p: s.physical.fault() if s.now < s.heal_at else None,
        "plug": lambda s, ln: s.physical.plug(ln),
    }


def _clock_offset(rng: random.Random) -> float:
    """Where a node's monotonic clock stands when the run begins (seconds).

    Bugs of long uptimes live in the u32 millisecond timestamps: past 2^31 ms (24.8 days)
    serial comparisons turn around, at 2^32 ms (49.7 days) the wire value wraps. So the
    clocks start anywhere in 0..50 days, and often just before one of those points so that
    the run crosses it."""
    kind = rng.randrange(4)
    if kind == 0:
        return rng.uniform(0, 1000)
    if kind == 1:
        return rng.uniform(0, 50 * 86400)
    point = (WRAP_MS if kind == 2 else WRAP_MS // 2) / 1000
    return point - rng.uniform(0, FAULT_PHASE + 60)


def _other(name: str) -> str:
    return NAMES[1] if name == NAMES[0] else NAMES[0]


def _which(rng: random.Random) -> str:
    return rng.choice(("local", "foreign", "all"))
