"""A small VOPR over `twinbeat.core`: N cores, a fake network, fake agents, one seeded PRNG.

Owns: `Simulation` — the event loop (a heap ordered by simulated time), per-node clocks with
drift, fake resource agents (slow, sometimes failing), node crashes and restarts, the fault
schedule, the resource ledger, and the property checks. docs/core.md §Simulator states the
properties and bounds; this docstring only summarises:

- Ledger: node n holds group k from the instant n's core issues StartGroup(k) until the
  agent's GroupStopped (or GroupStartFailed, whose driver already rolled back) is delivered.
  A stop that failed keeps the group held ("critical"). When a daemon crashes, whatever it
  held stays running ("leftover") until its next incarnation stops it.
- Safety, checked after every event: no group is held by two running daemons whose pair has
  been connected (some link working both ways, see sim_network) for the last
  `exempt_window` seconds; leftovers and critical groups are exempt. A node never issues
  StartGroup while it holds leftovers, or while its ping nodes are unreachable.
- Liveness: after `heal_at` every fault is repaired and every daemon running; by
  `heal_at + bound` each group (without a critical stop) has exactly one holder and no core
  is mid-transition.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from typing import Any

from sim_network import LINKS, FakeNetwork

from twinbeat.core import (
    FrameReceived,
    GroupSpec,
    GroupStarted,
    GroupStartFailed,
    GroupStopFailed,
    GroupStopped,
    LeftoversFound,
    Node,
    Params,
    PingReachability,
    SendHeartbeat,
    ShutdownComplete,
    ShutdownRequested,
    StandbyRequested,
    Started,
    StartGroup,
    StopGroup,
    TakeoverRequested,
    Tick,
)
from twinbeat.core.groups import BACKOFF_CAP

KEEPALIVE = 1.0
DEADTIME = 5.0
WARNTIME = 3.0
INITDEAD = 10.0
AGENT_MAX = 2.0  # slowest fake agent answer (start or stop)
PROBE_MAX = 0.5  # slowest leftover probe at start-up
MAX_DRIFT = 0.005  # clocks run up to 0.5 % fast or slow
FAULT_PHASE = 90.0


class PropertyViolationError(AssertionError):
    """A simulated run broke a property; the message carries the replay command."""


@dataclass
class SimNode:
    name: str
    offset: float
    drift: float
    generation: int = 1
    core: Node | None = None  # None while the daemon is down
    ping: bool = True
    tick_token: int = 0

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
    n_nodes: int = 2
    fault_phase: float = FAULT_PHASE
    trace: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        r = self.rng
        self.names = ("alpha", "bravo", "charlie")[: self.n_nodes]
        self.auto_failback = r.random() < 0.5
        self.ping_configured = r.random() < 0.3
        n_groups = r.randint(1, 3)
        self.groups = tuple(
            GroupSpec(key=f"198.18.1.{100 + i}", primary=self.names[i % self.n_nodes])
            for i in range(n_groups)
        )
        self.net = FakeNetwork(r, self.names)
        self.nodes = {
            n: SimNode(n, offset=r.uniform(0, 1000), drift=r.uniform(-MAX_DRIFT, MAX_DRIFT))
            for n in self.names
        }
        self.ledger: dict[str, dict[str, str]] = {n: {} for n in self.names}
        self.fail_start = r.choice((0.0, 0.1, 0.3))
        self.fail_stop = r.choice((0.0, 0.0, 0.02))
        self.heal_at = self.fault_phase
        self.bound = (INITDEAD + BACKOFF_CAP * DEADTIME + 4 * KEEPALIVE + 3 * AGENT_MAX
                      + PROBE_MAX)
        self.exempt_window = DEADTIME + 2 * AGENT_MAX + 2 * KEEPALIVE
        self.end = self.heal_at + self.bound
        self.now = 0.0
        self._heap: list[tuple[float, int, str, Any]] = []
        self._counter = 0
        self.last_cut: dict[tuple[str, str], float] = {}
        self.incarnation = {n: 0 for n in self.names}

    # ------------------------------------------------------------------ plumbing

    def _push(self, t: float, kind: str, payload: Any) -> None:
        self._counter += 1
        heapq.heappush(self._heap, (max(t, self.now), self._counter, kind, payload))

    def _params(self, sn: SimNode) -> Params:
        return Params(
            node=sn.name, peer=next(n for n in self.names if n != sn.name), links=LINKS,
            keepalive=KEEPALIVE, deadtime=DEADTIME, warntime=WARNTIME, initdead=INITDEAD,
            auto_failback=self.auto_failback, groups=self.groups, fingerprint=0x7B1E,
            generation=sn.generation, ping_configured=self.ping_configured,
        )

    def _boot(self, name: str) -> None:
        sn = self.nodes[name]
        sn.core = Node(self._params(sn), sn.local(self.now))
        self.incarnation[name] += 1
        self._feed(name, Started())
        leftovers = tuple(k for k, s in self.ledger[name].items() if s == "leftover")
        delay = self.rng.uniform(0.0, PROBE_MAX)
        self._push(self.now + delay, "agent", (name, self.incarnation[name],
                                               LeftoversFound(leftovers)))
        if self.ping_configured:
            self._feed(name, PingReachability(sn.ping))

    def _crash(self, name: str) -> None:
        sn = self.nodes[name]
        if sn.core is None:
            return
        self.trace.append(f"{self.now:.6f} {name} CRASH")
        sn.core = None
        for k in self.ledger[name]:
            self.ledger[name][k] = "leftover"
        sn.generation += 1

    def _feed(self, name: str, event: Any) -> None:
        sn = self.nodes[name]
        core = sn.core
        if core is None:
            return
        actions = core.feed(event, sn.local(self.now))
        for a in actions:
            self._act(name, a)
        if any(isinstance(a, ShutdownComplete) for a in actions):
            self._crash(name)  # the daemon exits; it comes back later with a new generation
            self._push(min(self.now + self.rng.uniform(0, 2 * DEADTIME), self.heal_at),
                       "boot", name)
            return
        sn.tick_token += 1
        deadline = core.next_deadline()
        if deadline is not None:
            self._push(max(sn.sim_time(deadline), self.now), "tick", (name, sn.tick_token))

    def _act(self, name: str, a: Any) -> None:
        sn = self.nodes[name]
        inc = self.incarnation[name]
        if isinstance(a, SendHeartbeat):
            self._send(name, a)
            return
        self.trace.append(f"{self.now:.6f} {name} {a!r}")
        if isinstance(a, StartGroup):
            if any(s == "leftover" for s in self.ledger[name].values()):
                self._violation(f"{name} started {a.key} while still holding leftovers")
            if self.ping_configured and not sn.ping:
                self._violation(f"{name} started {a.key} while isolated (no ping node)")
            self.ledger[name][a.key] = "held"
            fail = self.now < self.heal_at and self.rng.random() < self.fail_start
            # Where stops can fail, so can the rollback of a failed start: part of the group
            # then stays up here, exactly like a failed stop.
            stuck = fail and self.rng.random() < 10 * self.fail_stop
            ev = (
                GroupStartFailed(a.key, "sim", rolled_back=not stuck)
                if fail
                else GroupStarted(a.key)
            )
            self._push(self.now + self.rng.uniform(0.01, AGENT_MAX), "agent", (name, inc, ev))
        elif isinstance(a, StopGroup):
            fail = self.now < self.heal_at and self.rng.random() < self.fail_stop
            ev = GroupStopFailed(a.key, "sim") if fail else GroupStopped(a.key)
            self._push(self.now + self.rng.uniform(0.01, AGENT_MAX), "agent", (name, inc, ev))

    def _send(self, src: str, hb: SendHeartbeat) -> None:
        gen = self.nodes[src].generation
        for dst in self.names:
            if dst == src:
                continue
            for link in LINKS:
                echo = next(e for e in hb.echoes if e.link == link)
                frame = FrameReceived(
                    link=link, peer=src, generation=gen, sequence=hb.sequence,
                    timestamp_ms=hb.timestamp_ms, echo_ms=echo.echo_ms,
                    echo_delay_ms=echo.echo_delay_ms, fingerprint=0x7B1E,
                    node_state=hb.node_state, node_flags=hb.node_flags, groups=hb.groups,
                )
                for t in self.net.transmit(src, dst, link, self.now):
                    self._push(t, "frame", (dst, frame))

    def _deliver_agent(self, name: str, inc: int, ev: Any) -> None:
        # The agent finished: its effect on the machine stands even if the daemon died.
        key = getattr(ev, "key", None)
        stuck = isinstance(ev, GroupStopFailed) or (
            isinstance(ev, GroupStartFailed) and not ev.rolled_back
        )
        if stuck:
            self.ledger[name][ev.key] = "critical"
        elif isinstance(ev, GroupStopped | GroupStartFailed) and key is not None:
            self.ledger[name].pop(key, None)
        if inc != self.incarnation[name] or self.nodes[name].core is None:
            if stuck:
                self.ledger[name][ev.key] = "leftover"
            return
        self._feed(name, ev)

    # ------------------------------------------------------------------ faults

    def _schedule_faults(self) -> None:
        r = self.rng
        t = r.uniform(0, 5)
        while t < self.heal_at:
            self._push(t, "fault", None)
            t += r.expovariate(1 / 4.0)

    def _fault(self) -> None:
        r = self.rng
        a, b = r.sample(self.names, 2)
        kind = r.choice(("udp", "serial", "both", "crash", "ping", "standby", "takeover",
                         "shutdown", "loss"))
        dur = r.choice((r.uniform(0.5, DEADTIME), r.uniform(DEADTIME, 4 * DEADTIME)))
        self.trace.append(f"{self.now:.6f} FAULT {kind} {a} {b} {dur:.3f}")
        if kind in ("udp", "serial", "both"):
            links = LINKS if kind == "both" else ((LINKS[0],) if kind == "udp" else (LINKS[1],))
            for ln in links:
                self.net.set_cut(a, b, ln, True)
                self._push(min(self.now + dur, self.heal_at), "restore", (a, b, ln))
        elif kind == "crash":
            self._crash(a)
            self._push(min(self.now + dur, self.heal_at), "boot", a)
        elif kind == "ping" and self.ping_configured:
            self.nodes[a].ping = not self.nodes[a].ping
            self._feed(a, PingReachability(self.nodes[a].ping))
        elif kind == "standby":
            self._feed(a, StandbyRequested(r.choice(("local", "foreign", "all"))))
        elif kind == "takeover":
            self._feed(a, TakeoverRequested(r.choice(("local", "foreign", "all"))))
        elif kind == "shutdown":
            self._feed(a, ShutdownRequested())
        elif kind == "loss":
            for (src, _dst, _ln), m in self.net.models.items():
                if src == a:
                    m.loss = r.choice((0.0, 0.1, 0.5))

    def _heal(self) -> None:
        self.trace.append(f"{self.now:.6f} HEAL")
        self.net.heal()
        for name, sn in self.nodes.items():
            was_isolated = not sn.ping
            sn.ping = True
            if sn.core is None:
                self._boot(name)
            elif self.ping_configured and was_isolated:
                self._feed(name, PingReachability(True))

    # ------------------------------------------------------------------ properties

    def _violation(self, what: str) -> None:
        raise PropertyViolationError(
            f"sim seed {self.seed} (nodes={self.n_nodes}, auto_failback={self.auto_failback}, "
            f"ping={self.ping_configured}) at t={self.now:.3f}: {what}\n"
            f"replay: pytest tests/sim --sim-seed {self.seed}"
        )

    def _running(self, name: str) -> bool:
        sn = self.nodes[name]
        return sn.core is not None

    def _check_safety(self) -> None:
        for i, a in enumerate(self.names):
            for b in self.names[i + 1:]:
                if not self.net.working(a, b) or not self._running(a) or not self._running(b):
                    self.last_cut[(a, b)] = self.now
        for g in self.groups:
            holders = [n for n in self.names
                       if self._running(n) and self.ledger[n].get(g.key) == "held"]
            for i, a in enumerate(holders):
                for b in holders[i + 1:]:
                    cut = self.last_cut.get((a, b), self.last_cut.get((b, a)))
                    if cut is not None and self.now <= cut + self.exempt_window:
                        continue
                    self._violation(f"group {g.key} held by both {a} and {b} while connected")

    def _check_liveness(self) -> None:
        for g in self.groups:
            states = {n: self.ledger[n].get(g.key) for n in self.names}
            if "critical" in states.values():
                continue
            holders = [n for n, s in states.items() if s == "held"]
            if len(holders) != 1:
                self._violation(f"{self.bound:.0f}s after healing, group {g.key} has holders "
                                f"{holders} (ledger {states})")
            for n in self.names:
                core = self.nodes[n].core
                assert core is not None
                for gs in core.snapshot().groups:
                    if gs.local_state in ("claiming", "starting", "stopping"):
                        self._violation(f"{n} still {gs.local_state} {gs.key} after healing")
            if any(s == "leftover" for s in states.values()):
                self._violation(f"leftovers of {g.key} still running after healing")

    # ------------------------------------------------------------------ run

    def run(self) -> list[str]:
        for name in self.names:
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
        if kind == "frame":
            dst, frame = payload
            self._feed(dst, frame)
        elif kind == "tick":
            name, token = payload
            if token == self.nodes[name].tick_token:
                self._feed(name, Tick())
        elif kind == "agent":
            self._deliver_agent(*payload)
        elif kind == "boot":
            if self.nodes[payload].core is None:
                self._boot(payload)
        elif kind == "restore":
            a, b, ln = payload
            self.net.set_cut(a, b, ln, False)
        elif kind == "fault":
            self._fault()
        elif kind == "heal":
            self._heal()
