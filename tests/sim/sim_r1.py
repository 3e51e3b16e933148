"""A seeded simulation of a mixed cluster that negotiates: twinbeat beside heartbeat 3.0.6.

Owns: `R1Simulation`. calc is the production `Engine` (issue #14, step 2: it speaks
heartbeat's protocol); prime is `hb_model.HbModel`, a model of heartbeat 3.0.6 written from
heartbeat's rules. Their messages cross as real bytes (the wire codec: netstring on UDP,
classic text on serial through the real `Deframer`). The network loses, duplicates, delays
and cuts each link, and sometimes both (a partition). Both nodes lose power and come back,
stop gracefully and start again; admins ask for standby and takeover on either side; agents
take 0.1-AGENT_MAX s per group. auto_failback is on or off per seed.

Properties, checked as the events happen (a violation names the seed):
- S1, one holder: no group runs on both nodes at once, except within HEAL of a partition
  (both links cut: both take over, as two heartbeat nodes do; after it heartbeat gives
  everything up and restarts) or of a false death (a node declared dead while it runs, its
  messages lost on every link for deadtime: the same, without fencing);
- S2, no core misuse: the engine never raises;
- L1, settles: after 120 s of faults, everything heals (links, power, no requests) and within
  SETTLE every group runs on exactly one node, on its primary when auto_failback is on and
  no admin moved groups (after a standby they stay where it put them, as in heartbeat).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hb_model import HbModel
from sim_mixed import DEADTIME, INITDEAD, KEEPALIVE, LINK_IDS, MAX_DELAY, RING, TICK, TTY, UDP

from twinbeat import wire
from twinbeat.core import (
    GroupSpec,
    GroupStarted,
    GroupStopped,
    LeftoversFound,
    Log,
    Params,
    ShutdownComplete,
    ShutdownRequested,
    StandbyRequested,
    Started,
    StartGroup,
    StopGroup,
    TakeoverRequested,
    Tick,
)
from twinbeat.engine import Engine, Transmit

AGENT_MAX = 1.0
GROUPS = (GroupSpec("198.18.1.100", "prime"), GroupSpec("198.18.1.200", "calc"),
          GroupSpec("198.18.1.101", "prime"))
FAULTS_FOR = 120.0
# A machine that lost power is back after this long: longer than deadtime, so that its peer
# saw it die. (A heartbeat node whose peer reboots within deadtime in the middle of a standby
# waits for the standby's end for an hour; heartbeat's own behaviour, left out here.)
REBOOT = (DEADTIME + 1.0, 30.0)
# After a partition heals: detection, heartbeat's 2 s before it restarts, its stopping every
# group one by one, and the peer's view of it.
HEAL = 2 * DEADTIME + 2.0 + len(GROUPS) * AGENT_MAX + 2.0
SETTLE = 90.0  # both starting: RQSTDELAY, then failbacks one standby at a time


class PropertyViolationError(AssertionError):
    pass


@dataclass
class Link:
    loss: float
    dup: float
    cuts: list[tuple[float, float]] = field(default_factory=list)

    def cut(self, now: float) -> bool:
        return any(a <= now < b for a, b in self.cuts)


class PrimeIO:
    """HbModel's view of the world: the simulator's queue, network and agents."""

    def __init__(self, sim: R1Simulation) -> None:
        self.sim = sim

    def send(self, fields: list[tuple[str, str]]) -> None:
        self.sim.prime_sends(fields)

    def run_group(self, index: int, start: bool, done: Callable[[], None]) -> None:
        self.sim.prime_agent(index, start, done)

    def later(self, delay: float, what: str) -> None:
        self.sim.at(self.sim.now + delay, "prime-timer", (self.sim.prime_life, what))

    def log(self, text: str) -> None:
        self.sim.trace.append(f"{self.sim.now:.2f} {text}")
        if "is dead" in text and self.sim.calc is not None:
            self.sim.false_deaths.append(self.sim.now)  # calc runs: a lossy link's doing


@dataclass
class R1Simulation:
    seed: int
    rng: random.Random = field(init=False)
    trace: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.queue: list[tuple[float, int, str, Any]] = []
        self.order = itertools.count()
        self.now = 0.0
        self.auto_failback = self.rng.random() < 0.6
        self.links = {UDP: Link(self.rng.choice([0, 0.05, 0.2]), self.rng.choice([0, 0.1])),
                      TTY: Link(self.rng.choice([0, 0.02]), 0.0)}
        self.partitions: list[tuple[float, float]] = []
        self.requested = False  # a standby or takeover: groups stay where it sent them
        self.false_deaths: list[float] = []  # a node declared its running peer dead
        self.calc_gen = 1
        self.calc: Engine | None = None
        self.calc_life = 0
        self.deframer = wire.Deframer()
        self.calc_running: dict[int, str] = {}  # group -> starting | held | stopping
        self.prime_running: dict[int, str] = {}
        self.prime_life = 0
        self.prime = HbModel("prime", "calc", [g.primary for g in GROUPS], KEEPALIVE,
                             DEADTIME, INITDEAD, self.auto_failback, PrimeIO(self))

    # -- schedule -------------------------------------------------------------------------

    def at(self, when: float, kind: str, data: Any = None) -> None:
        heapq.heappush(self.queue, (when, next(self.order), kind, data))

    def _plan(self) -> None:
        r = self.rng
        self.at(r.uniform(0, 5), "prime-start")
        self.at(r.uniform(0, 15), "calc-start")
        for _ in range(r.randint(0, 3)):
            a = r.uniform(10, FAULTS_FOR - 10)
            link = r.choice([UDP, TTY])
            self.links[link].cuts.append((a, a + r.uniform(1, 20)))
        for _ in range(r.randint(0, 2)):
            a = r.uniform(20, FAULTS_FOR - 20)
            b = a + r.uniform(2, 4 * DEADTIME)
            self.partitions.append((a, b))
            for link in self.links.values():
                link.cuts.append((a, b))
        for _ in range(r.randint(2, 8)):
            self.at(r.uniform(15, FAULTS_FOR), r.choice(
                ["prime-power", "calc-power", "prime-stop", "calc-stop", "calc-standby",
                 "calc-takeover", "prime-standby", "prime-standby", "calc-standby"]))
        self.at(FAULTS_FOR, "heal")
        self.at(FAULTS_FOR + SETTLE, "settled")

    def run(self) -> list[str]:
        self._plan()
        self.at(0.0, "tick")
        while self.queue:
            self.now, _, kind, data = heapq.heappop(self.queue)
            if kind == "end":
                break
            getattr(self, "_on_" + kind.replace("-", "_"))(data)
        return self.trace

    def split_within(self, window: float) -> bool:
        """Whether the nodes lost each other (a partition, or a false death: every link's
        messages lost for deadtime) within the last `window` seconds: both then take over,
        as two heartbeat nodes do, until the heal sorts it out."""
        return self.partitioned_within(window) or any(
            self.now - window <= t <= self.now for t in self.false_deaths)

    def partitioned_within(self, window: float) -> bool:
        """Whether both links were cut at once (a planned partition, or two cuts that
        overlap) at some time in the last `window` seconds."""
        both = [(max(a1, a2), min(b1, b2)) for a1, b1 in self.links[UDP].cuts
                for a2, b2 in self.links[TTY].cuts if max(a1, a2) < min(b1, b2)]
        return any(a <= self.now and b >= self.now - window for a, b in both)

    # -- prime (heartbeat) ------------------------------------------------------------------

    def _on_prime_start(self, _: None) -> None:
        if self.prime.up:
            return
        self.prime_life += 1
        self.trace.append(f"{self.now:.2f} prime: heartbeat starts")
        self.prime.start(self.now)

    def _on_prime_timer(self, item: tuple[int, str]) -> None:
        life, what = item
        if life != self.prime_life:
            return
        if what == "start again":
            self.at(self.now, "prime-start")
        elif what == "stopped":
            self.at(self.now + self.rng.uniform(1, 20), "prime-start")
        else:
            self.prime.on_timer(what, self.now)

    def _on_prime_power(self, _: None) -> None:
        self.trace.append(f"{self.now:.2f} prime: power lost")
        self.prime.power_off()
        self.prime_running.clear()
        self.prime_life += 1
        self.at(self.now + self.rng.uniform(*REBOOT), "prime-start")

    def _on_prime_stop(self, _: None) -> None:
        if self.prime.up:
            self.trace.append(f"{self.now:.2f} prime: heartbeat stopped")
            self.prime.giveup(self.now)

    def _on_prime_standby(self, _: None) -> None:
        if self.prime.up and self.prime.comm_up:
            which = self.rng.choice(["all", "local", "foreign"])
            self.trace.append(f"{self.now:.2f} prime: hb_standby {which}")
            self.requested = True
            self.prime.hb_standby(which, self.now)

    def prime_agent(self, index: int, start: bool, done: Callable[[], None]) -> None:
        life = self.prime_life
        self.prime_running[index] = "starting" if start else "stopping"
        if start:
            self.check_one_holder(index)

        def finish() -> None:
            if life != self.prime_life:
                return  # the machine lost power meanwhile
            if start:
                self.prime_running[index] = "held"
            else:
                self.prime_running.pop(index, None)
            done()

        self.at(self.now + self.rng.uniform(0.1, AGENT_MAX), "call", finish)

    def _on_call(self, fn: Callable[[], None]) -> None:
        fn()

    def prime_sends(self, fields: list[tuple[str, str]]) -> None:
        encoded = [(f[0].encode(), f[1].encode()) for f in fields]
        self.send("calc", UDP, wire.hb_encode_netstring(encoded, RING))
        self.send("calc", TTY, wire.hb_encode_classic(encoded, RING))

    # -- the network -------------------------------------------------------------------------

    def send(self, to: str, link: str, data: bytes) -> None:
        lk = self.links[link]
        if lk.cut(self.now) or self.rng.random() < lk.loss:
            return
        delay = self.rng.uniform(0, MAX_DELAY) if link == UDP else 0.01
        for _ in range(2 if self.rng.random() < lk.dup else 1):
            self.at(self.now + delay, "deliver", (to, link, data))

    def _on_deliver(self, item: tuple[str, str, bytes]) -> None:
        to, link, data = item
        if to == "prime":
            if data[:4] in (b"###\n", b">>>\n") and self.prime.up:
                msg = wire.hb_decode_untrusted(data, RING)
                fields = [(f.name.decode(), f.value.decode()) for f in msg.fields]
                self.prime.receive(dict(reversed(fields)), fields, self.now)
            return
        if self.calc is None:
            return
        messages = [data] if link == UDP else self.deframer.feed(data)
        for message in messages:
            self.outputs(self.calc.received(link, message, self.now))

    # -- calc (twinbeat) ---------------------------------------------------------------------

    def _on_calc_start(self, _: None) -> None:
        if self.calc is not None:
            return
        self.calc_life += 1
        self.calc_gen += 1
        params = Params(node="calc", peer="prime", links=(UDP, TTY), keepalive=KEEPALIVE,
                        deadtime=DEADTIME, warntime=DEADTIME / 2, initdead=INITDEAD,
                        auto_failback=self.auto_failback, groups=GROUPS, fingerprint=1,
                        generation=self.calc_gen, wall_clock_offset=1.7e9)
        self.calc = Engine(params, RING, LINK_IDS, self.now)
        self.deframer = wire.Deframer()
        self.trace.append(f"{self.now:.2f} calc: twinbeat starts, generation {self.calc_gen}")
        self.calc.feed(Started(), self.now)
        self.outputs(self.calc.feed(LeftoversFound(()), self.now))

    def _on_calc_power(self, _: None) -> None:
        self.trace.append(f"{self.now:.2f} calc: power lost")
        self.calc, self.calc_running = None, {}
        self.calc_life += 1
        self.at(self.now + self.rng.uniform(*REBOOT), "calc-start")

    def _on_calc_stop(self, _: None) -> None:
        if self.calc is not None:
            self.trace.append(f"{self.now:.2f} calc: twinbeat stopped")
            self.outputs(self.calc.feed(ShutdownRequested(), self.now))

    def _on_calc_standby(self, _: None) -> None:
        self._request(StandbyRequested(self.rng.choice(["all", "local", "foreign"])))

    def _on_calc_takeover(self, _: None) -> None:
        self._request(TakeoverRequested(self.rng.choice(["all", "local", "foreign"])))

    def _request(self, ev: StandbyRequested | TakeoverRequested) -> None:
        if self.calc is not None:
            self.trace.append(f"{self.now:.2f} calc: {type(ev).__name__}({ev.which})")
            self.requested = True
            self.outputs(self.calc.feed(ev, self.now))

    def _on_tick(self, _: None) -> None:
        if self.calc is not None:
            due = self.calc.next_deadline()
            if due is not None and due <= self.now:
                self.outputs(self.calc.feed(Tick(), self.now))
        self.at(self.now + TICK, "tick")

    def _on_calc_agent(self, item: tuple[int, int, bool]) -> None:
        life, index, start = item
        if life != self.calc_life or self.calc is None:
            return
        key = GROUPS[index].key
        if start:
            self.calc_running[index] = "held"
            self.outputs(self.calc.feed(GroupStarted(key), self.now))
        else:
            self.calc_running.pop(index, None)
            self.outputs(self.calc.feed(GroupStopped(key), self.now))

    def outputs(self, outputs: list[Any]) -> None:
        index = {g.key: i for i, g in enumerate(GROUPS)}
        for out in outputs:
            if isinstance(out, Transmit):
                for link, data in out.payloads:
                    self.send("prime", link, data)
            elif isinstance(out, StartGroup | StopGroup):
                i, start = index[out.key], isinstance(out, StartGroup)
                self.calc_running[i] = "starting" if start else "stopping"
                if start:
                    self.check_one_holder(i)
                self.trace.append(f"{self.now:.2f} calc {'starts' if start else 'stops'} "
                                  f"{out.key}")
                self.at(self.now + self.rng.uniform(0.1, AGENT_MAX), "calc-agent",
                        (self.calc_life, i, start))
            elif isinstance(out, Log) and out.message == "node prime: is dead" and (
                    self.prime.up):
                self.false_deaths.append(self.now)
            elif isinstance(out, ShutdownComplete):
                self.calc = None
                self.calc_life += 1
                self.at(self.now + self.rng.uniform(1, 20), "calc-start")

    # -- properties ----------------------------------------------------------------------------

    def check_one_holder(self, index: int) -> None:
        if index in self.calc_running and index in self.prime_running and (
                not self.split_within(HEAL)):
            self.violation(f"S1: {GROUPS[index].key} runs on both nodes")

    def _on_heal(self, _: None) -> None:
        for link in self.links.values():  # cuts end now; past ones still count (S1)
            link.loss, link.dup = 0.0, 0.0
            link.cuts = [(a, min(b, self.now)) for a, b in link.cuts if a < self.now]
        self.trace.append(f"{self.now:.2f} heal")
        if self.calc is None:  # not before a reboot's time (REBOOT)
            self.at(self.now + REBOOT[0], "calc-start")
        if not self.prime.up:
            self.at(self.now + REBOOT[0], "prime-start")

    def _on_settled(self, _: None) -> None:
        for i, g in enumerate(GROUPS):
            where = {n for n, r in (("calc", self.calc_running), ("prime", self.prime_running))
                     if r.get(i) == "held"}
            if len(where) != 1:
                self.violation(f"L1: {g.key} held by {sorted(where)} {SETTLE:g} s after healing")
            if self.auto_failback and not self.requested and where != {g.primary}:
                self.violation(f"L1: {g.key} not on its primary {g.primary} (auto_failback on)")
        self.at(self.now, "end")

    def violation(self, what: str) -> None:
        tail = "\n".join(self.trace[-40:])
        raise PropertyViolationError(
            f"seed {self.seed} at {self.now:.2f}: {what}\n{tail}\n"
            f"replay: pytest tests/sim/test_sim_r1.py --sim-seed {self.seed}")
