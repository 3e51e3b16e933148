"""A seeded simulation of a mixed cluster: one twinbeat node, one heartbeat 3.0.6 node,
with auto_failback legacy (twinbeat holds off: issue #14 step 1; sim_r1.py has step 2).

Owns: `MixedSimulation`. The twinbeat node ("calc") is the production `Engine`; the peer
("prime") is a model of heartbeat 3.0.6 that sends real heartbeat messages, built by the
wire codec as heartbeat builds them: a status every keepalive on both links, netstring on
UDP, classic text on the serial line (through the real `Deframer`, in random reads, with
line noise), plus unsequenced `NS_ackmsg` messages. It crashes (falls silent) and restarts
(a higher generation, sequences from 1); after its initdead it holds every group, since it
cannot see twinbeat. The network loses, duplicates, delays and cuts each link; an adversary
replays delivered messages, and sends messages signed with another key and garbage.

Properties (issue #14, step 1), checked as the events happen; a violation names the seed:
- S1, hold off: calc never issues StartGroup within deadtime of a fresh status from prime
  (fresh: heartbeat's own order, a higher (generation, sequence) than any delivered);
- S2, give up: right after a fresh status is delivered, every group calc runs is being
  stopped or is still starting (and is stopped as soon as its start completes);
- L1, fail over: once prime has crashed for good, calc holds every group within deadtime
  + the links' grace + the largest link delay + an agent's start time; replays change
  nothing about that.
Kept apart from sim_cluster.py (two twinbeat nodes) on purpose: it shares only the Engine.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from sim_mixed import DEADTIME, INITDEAD, KEEPALIVE, LINK_IDS, MAX_DELAY, RING, TICK, TTY, UDP

from twinbeat import wire
from twinbeat.core import (
    GroupSpec,
    GroupStarted,
    GroupStopped,
    LeftoversFound,
    Params,
    Started,
    StartGroup,
    StopGroup,
    Tick,
)
from twinbeat.engine import Engine

GRACE = 0.05
AGENT_MAX = 1.5  # an agent's start or stop takes up to this long
# L1: from prime's last status sent to calc holding everything (the status may arrive up to
# MAX_DELAY late; calc's ticks may be up to TICK late).
FAILOVER = MAX_DELAY + DEADTIME + GRACE + TICK + AGENT_MAX + 0.01
GROUPS = (GroupSpec("198.18.1.100", "prime"), GroupSpec("198.18.1.200", "calc"))
WRONG = wire.Keyring({1: ("md5", b"not-the-key")}, 1)


class PropertyViolationError(AssertionError):
    pass


@dataclass
class HeartbeatNode:
    """prime running heartbeat 3.0.6 (reference §1.6, §3): what it sends and when it holds."""

    rng: random.Random
    generation: int = 0x6B068000
    sequence: int = 0
    started_at: float | None = None  # None: down

    def start(self, now: float) -> None:
        self.generation += self.rng.randint(1, 3)
        self.sequence = 0
        self.started_at = now

    def holds(self, now: float) -> bool:
        return self.started_at is not None and now >= self.started_at + INITDEAD

    def status(self, now: float) -> list[wire.HbField]:
        assert self.started_at is not None
        self.sequence += 1
        st = b"up" if now < self.started_at + INITDEAD else b"active"
        f = wire.HbField
        return [f(b"t", b"status"), f(b"st", st), f(b"dt", b"1388"), f(b"protocol", b"1"),
                f(b"src", b"prime"), f(b"srcuuid", bytes(range(16)), True),
                f(b"seq", b"%x" % self.sequence), f(b"hg", b"%x" % self.generation),
                f(b"ts", b"%x" % int(1_800_000_000 + now)), f(b"ld", b"0.01 0.02 0.00 1/99 42"),
                f(b"ttl", b"3")]

    def ack(self) -> list[wire.HbField]:
        f = wire.HbField
        return [f(b"t", b"NS_ackmsg"), f(b"dest", b"calc"), f(b"ackseq", b"1"),
                f(b"src", b"prime"), f(b"hg", b"%x" % self.generation), f(b"ttl", b"3")]


@dataclass
class LinkFaults:
    loss: float
    dup: float
    cuts: list[tuple[float, float]]

    def cut(self, now: float) -> bool:
        return any(a <= now < b for a, b in self.cuts)


@dataclass
class MixedSimulation:
    seed: int
    duration: float = 400.0
    rng: random.Random = field(init=False)
    trace: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.queue: list[tuple[float, int, str, Any]] = []
        self.order = itertools.count()
        params = Params(node="calc", peer="prime", links=(UDP, TTY), keepalive=KEEPALIVE,
                        deadtime=DEADTIME, warntime=DEADTIME / 2, initdead=INITDEAD,
                        auto_failback=True, groups=GROUPS, fingerprint=1, generation=1,
                        legacy_failback=True)  # step 1's hold-off (sim_r1.py: step 2)
        self.engine = Engine(params, RING, LINK_IDS, 0.0)
        self.deframer = wire.Deframer()
        self.prime = HeartbeatNode(self.rng)
        self.faults = {ln: self._faults() for ln in (UDP, TTY)}
        self.captured: list[tuple[str, bytes]] = []
        self.fresh: tuple[int, int] = (0, 0)  # highest (generation, sequence) delivered
        self.last_fresh = -1e9
        self.running: dict[str, str] = {}  # group -> "starting" | "held" | "stopping"
        self.final_crash: float | None = None
        self.final_sent = 0.0  # when prime last sent a status
        self.failover_checked = False

    # -- schedule -------------------------------------------------------------------------

    def _faults(self) -> LinkFaults:
        cuts = []
        for _ in range(self.rng.randint(0, 4)):
            a = self.rng.uniform(0, self.duration * 0.6)
            cuts.append((a, a + self.rng.uniform(1, 30)))
        return LinkFaults(self.rng.choice([0, 0.05, 0.3]), self.rng.choice([0, 0.1]), cuts)

    def at(self, when: float, kind: str, data: Any = None) -> None:
        heapq.heappush(self.queue, (when, next(self.order), kind, data))

    def _plan_prime(self) -> None:
        """prime's lives: up 15-120 s, down 8-60 s, silent for good from 70 % of the run."""
        t, end = self.rng.uniform(0, 40), self.duration * 0.7
        while t < end - 1:
            self.at(t, "prime-start")
            crash = min(t + self.rng.uniform(15, 120), end)
            self.at(crash, "prime-crash")
            self.final_crash = crash
            t = crash + self.rng.uniform(8, 60)

    def run(self) -> list[str]:
        self.engine.feed(Started(), 0.0)
        self._outputs(self.engine.feed(LeftoversFound(()), 0.0), 0.0)
        self._plan_prime()
        for _ in range(self.rng.randint(0, 40)):
            self.at(self.rng.uniform(0, self.duration), "adversary")
        self.at(0.0, "tick")
        while self.queue:
            now, _, kind, data = heapq.heappop(self.queue)
            if now > self.duration:
                break
            getattr(self, "_on_" + kind.replace("-", "_"))(now, data)
        if not self.failover_checked:
            self.violation(self.duration, "L1 was never checked: the run is too short")
        return self.trace

    # -- prime --------------------------------------------------------------------------

    def _on_prime_start(self, now: float, _: None) -> None:
        self.prime.start(now)
        self.trace.append(f"{now:.2f} prime starts, generation {self.prime.generation:x}")
        self.at(now, "prime-beat", self.prime.started_at)

    def _on_prime_crash(self, now: float, _: None) -> None:
        self.prime.started_at = None
        self.trace.append(f"{now:.2f} prime crashes")
        if now == self.final_crash:
            self.at(self.final_sent + FAILOVER, "failover-due")

    def _on_prime_beat(self, now: float, incarnation: float) -> None:
        if self.prime.started_at != incarnation:
            return  # crashed (and maybe restarted) since
        fields = self.prime.status(now)
        self.final_sent = now
        self._send(now, fields, status=(self.prime.generation, self.prime.sequence))
        if self.rng.random() < 0.3:
            self._send(now, self.prime.ack(), status=None)
        self.at(now + KEEPALIVE * self.rng.uniform(0.97, 1.03), "prime-beat", incarnation)

    def _send(self, now: float, fields: list[wire.HbField], status: tuple[int, int] | None
              ) -> None:
        for link, data in ((UDP, wire.hb_encode_netstring(fields, RING)),
                           (TTY, wire.hb_encode_classic(fields, RING))):
            f = self.faults[link]
            if f.cut(now) or self.rng.random() < f.loss:
                continue
            for _ in range(2 if self.rng.random() < f.dup else 1):
                self.at(now + self.rng.uniform(0, MAX_DELAY), "deliver", (link, data, status))

    # -- the network into calc ----------------------------------------------------------------

    def _on_deliver(self, now: float, item: tuple[str, bytes, tuple[int, int] | None]) -> None:
        link, data, status = item
        self.captured.append((link, data))
        fresh = status is not None and status > self.fresh
        if fresh:
            assert status is not None
            self.fresh, self.last_fresh = status, now
        self._receive(now, link, data)
        if fresh:
            self._check_giving_up(now)

    def _receive(self, now: float, link: str, data: bytes) -> None:
        if link == UDP:
            self._outputs(self.engine.received(link, data, now), now)
            return
        stream = data
        if self.rng.random() < 0.1:  # line noise between messages, ended by a line end
            stream = self.rng.randbytes(self.rng.randint(1, 40)) + b"\n" + stream
        pos = 0
        while pos < len(stream):
            step = self.rng.randint(1, 300)
            for message in self.deframer.feed(stream[pos : pos + step]):
                self._outputs(self.engine.received(TTY, message, now), now)
            pos += step

    def _on_adversary(self, now: float, _: None) -> None:
        link = self.rng.choice([UDP, TTY])
        choice = self.rng.randrange(3)
        if choice == 0 and self.captured:
            link, data = self.rng.choice(self.captured)  # a replay
        elif choice == 1:
            fields = HeartbeatNode(random.Random(0)).ack()
            data = (wire.hb_encode_netstring(fields, WRONG) if link == UDP
                    else wire.hb_encode_classic(fields, WRONG))
        else:
            data = self.rng.choice([b"###\n", b">>>\n", b""]) + self.rng.randbytes(60) + b"\n"
        self._receive(now, link, data)

    # -- calc ---------------------------------------------------------------------------------

    def _on_tick(self, now: float, _: None) -> None:
        """Tick when the core asks; look again at least every TICK (a delivery may have
        brought its deadline forward)."""
        due = self.engine.next_deadline()
        if due is not None and due <= now:
            self._outputs(self.engine.feed(Tick(), now), now)
        due = self.engine.next_deadline()
        self.at(max(min(due if due is not None else now + TICK, now + TICK), now + 0.001),
                "tick")

    def _on_agent(self, now: float, item: tuple[str, bool]) -> None:
        key, start = item
        if start:
            self.running[key] = "held"
            self._outputs(self.engine.feed(GroupStarted(key), now), now)
            if now - self.last_fresh < DEADTIME and self.running.get(key) != "stopping":
                self.violation(now, f"S2: {key} started while prime is heard, not given up")
        else:
            del self.running[key]
            self._outputs(self.engine.feed(GroupStopped(key), now), now)

    def _outputs(self, outputs: list[Any], now: float) -> None:
        for out in outputs:
            if isinstance(out, StartGroup):
                if now - self.last_fresh < DEADTIME:
                    self.violation(now, f"S1: StartGroup({out.key}) {now - self.last_fresh:.2f}"
                                        " s after a fresh status from prime")
                self.running[out.key] = "starting"
                self.at(now + self.rng.uniform(0.1, AGENT_MAX), "agent", (out.key, True))
                self.trace.append(f"{now:.2f} calc starts {out.key}")
            elif isinstance(out, StopGroup):
                self.running[out.key] = "stopping"
                self.at(now + self.rng.uniform(0.1, AGENT_MAX), "agent", (out.key, False))
                self.trace.append(f"{now:.2f} calc stops {out.key}")

    # -- properties ---------------------------------------------------------------------------

    def _check_giving_up(self, now: float) -> None:
        for key, state in self.running.items():
            if state == "held":
                self.violation(now, f"S2: {key} still held after a fresh status from prime")

    def _on_failover_due(self, now: float, _: None) -> None:
        held = {k for k, s in self.running.items() if s == "held"}
        if held != {g.key for g in GROUPS}:
            self.violation(now, f"L1: calc holds {sorted(held)} {now - self.final_sent:.2f} s "
                                "after prime's last status")
        self.failover_checked = True

    def violation(self, now: float, what: str) -> None:
        tail = "\n".join(self.trace[-15:])
        raise PropertyViolationError(f"seed {self.seed}, t={now:.2f}: {what}\n{tail}")
