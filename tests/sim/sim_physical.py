"""Physical links in the simulator (issue #17): carrier reports, power loss, pulled cables.

Owns `SimPhysical`, what the links' physical layer adds to a simulated cluster (sim_cluster.py
and sim_fence.py call it from a few hooks; docs/core.md §Simulator states the properties):

- **Carrier**, as each node's drivers see it, per link: lost while the cable is pulled, while
  either machine is off (a dark NIC, no DTR on the serial line), and on the serial link while
  the peer's daemon is not running if `hupcl` (a process that exits closes its tty, and with
  HUPCL its DTR drops: our DSR/DCD). A frozen daemon keeps its tty open. In most seeds the
  drivers report it (`LinkCarrier`) to their daemon: at boot (the state found when the links
  open), then on every change, after a driver's delay (the NIC's netlink event: 0.5-3 ms; the
  serial line's modem-line poll: up to 12 ms), in order per link; a report meant for an
  incarnation that has exited is lost with it. In the other seeds the drivers see nothing
  (a switched LAN, a three-wire cable): the same faults are then plain silence.
- **Faults** (own schedule and PRNG, so that the run's other draws stay those of its seed):
  power loss (the machine off: daemon, agents and resources gone, like a fence's power-off,
  and on again 2-5 s later), both cables pulled (a pull that looks exactly like a power loss
  while the peer runs on), one cable pulled, and a blip of both (1-20 ms).
- **Properties**, checked as they happen:
  8a. *No premature death*: when a node declares its peer dead (not from a fence's result),
      every link either had its carrier reported lost and was not heard since, or was
      silent for deadtime (or never heard).
  8b. *Dead now*: once every link's carrier was reported lost and none heard since (and
      none is still in initdead), the peer is not alive.
  8c. *No revival from before the loss*: a peer that was off before the node was told that
      every link lost its carrier is never seen alive by it while it stays off (frames still
      in flight were sent before the loss and prove nothing).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from sim_network import LINKS, SERIAL, UDP

from twinbeat.core import LinkCarrier, Log

if TYPE_CHECKING:
    from sim_cluster import Simulation

NIC_DELAY = (0.0005, 0.003)  # netlink: the kernel's event, read at once
SERIAL_DELAY = (0.0, 0.012)  # the modem-line poll (links/serial.py: 10 ms) or a hang-up
BLIP = (0.001, 0.02)


class SimPhysical:
    """The physical half of a `Simulation`. See the module docstring."""

    def __init__(self, sim: Simulation, names: tuple[str, ...], deadtime: float) -> None:
        self.sim = sim
        self.names = names
        self.deadtime = deadtime
        self.rng = random.Random(sim.seed * 7919 + 17)
        r = self.rng
        self.reported = r.random() < 0.75  # the drivers see the physical layer
        self.hupcl = r.random() < 0.5
        self.rate = r.choice((0.0, 1 / 15, 1 / 6))  # physical faults per second
        self.pulled = dict.fromkeys(LINKS, False)
        self.told: dict[tuple[str, str], bool] = {}  # what each running daemon's driver saw
        self.last_report: dict[tuple[str, str], float] = {}  # reports stay in order per link
        # Per node and link: (sim time, frames_ok) of a loss fed and not heard since.
        self.lost: dict[tuple[str, str], tuple[float, int]] = {}
        self.receiving: tuple[str, str] | None = None  # (node, link) of the frame being fed

    def describe(self) -> str:
        return f"carrier={'on' if self.reported else 'off'} hupcl={self.hupcl}"

    # ------------------------------------------------------------------ the physical state

    def carrier(self, node: str, link: str) -> bool:
        sim = self.sim
        peer = next(n for n in self.names if n != node)
        powered = sim.fence.powered
        if self.pulled[link] or not powered[node] or not powered[peer]:
            return False
        return not (link == SERIAL and self.hupcl and sim.nodes[peer].engine is None)

    def changed(self) -> None:
        """The physical state may have changed: each running daemon's drivers report what
        they now see differently (after their delay)."""
        sim = self.sim
        for n in self.names:
            if sim.nodes[n].engine is None:
                for ln in LINKS:
                    self.told.pop((n, ln), None)
                continue
            for ln in LINKS:
                seen = self.carrier(n, ln)
                if self.told.get((n, ln)) != seen:
                    self.told[(n, ln)] = seen
                    self._report(n, ln, seen)

    def booted(self, name: str) -> None:
        """A daemon's links open: its drivers report what they find; its serial port is
        open again, so the peer's DSR/DCD may come back."""
        for ln in LINKS:
            self.told.pop((name, ln), None)
            self.lost.pop((name, ln), None)
        self.changed()

    def _report(self, node: str, link: str, up: bool) -> None:
        if not self.reported:
            return
        sim = self.sim
        lo, hi = NIC_DELAY if link == UDP else SERIAL_DELAY
        t = max(sim.now + self.rng.uniform(lo, hi), self.last_report.get((node, link), 0.0))
        self.last_report[(node, link)] = t
        sim._push(t, "carrier", (node, sim.incarnation[node], link, up))

    def deliver(self, payload: tuple[str, int, str, bool]) -> None:
        node, inc, link, up = payload
        sim = self.sim
        if inc != sim.incarnation[node] or sim.nodes[node].engine is None:
            return  # that daemon exited: its driver's report went with it
        sim._feed(node, LinkCarrier(link, up))  # a frozen daemon takes it in when it resumes

    # ------------------------------------------------------------------ faults

    def schedule(self) -> None:
        sim, r = self.sim, self.rng
        if not self.rate:
            return
        t = r.uniform(0, 10)
        while t < sim.heal_at:
            sim._push(t, "physical", None)
            t += r.expovariate(self.rate)

    def fault(self) -> None:
        sim, r = self.sim, self.rng
        a = r.choice(self.names)
        kind = r.choice(("power_loss", "power_loss", "pull_both", "pull_one", "blip"))
        dur = r.choice((r.uniform(0.005, 0.5), r.uniform(0.5, self.deadtime),
                        r.uniform(self.deadtime, 4 * self.deadtime)))
        sim.trace.append(f"{sim.now:.6f} PHYSICAL {kind} {a} {dur:.3f}")
        if kind == "power_loss":
            sim.fence.power_off(a, why="power loss")
        elif kind == "pull_one":
            self.pull((r.choice(LINKS),), dur)
        else:
            self.pull(LINKS, r.uniform(*BLIP) if kind == "blip" else dur)

    def pull(self, links: tuple[str, ...], dur: float) -> None:
        sim = self.sim
        for ln in links:
            self.pulled[ln] = True
            sim.net.set_dark(*self.names, ln, True, sim.now)
            sim._push(min(sim.now + dur, sim.heal_at), "plug", ln)
        self.changed()

    def plug(self, link: str) -> None:
        sim = self.sim
        if self.pulled[link]:
            self.pulled[link] = False
            sim.net.set_dark(*self.names, link, False, sim.now)
            self.changed()

    def heal(self) -> None:
        """Every cable plugged (sim_cluster then boots every daemon that is down)."""
        for ln in LINKS:
            self.plug(ln)
        self.changed()

    # ------------------------------------------------------------------ properties

    def _frames_ok(self, node: str) -> dict[str, int]:
        engine = self.sim.nodes[node].engine
        assert engine is not None
        return {lk.name: lk.counters.frames_ok for lk in engine.snapshot().peers[0].links}

    def _unheard_losses(self, node: str) -> dict[str, float]:
        """The links of `node` whose loss it was told of and which it has not heard since,
        with the time it was told."""
        ok = self._frames_ok(node)
        out = {}
        for ln in LINKS:
            rec = self.lost.get((node, ln))
            if rec is not None and rec[1] == ok[ln]:
                out[ln] = rec[0]
        return out

    def feeding(self, node: str, event: object) -> None:
        """Before a daemon takes an event in: a loss is remembered (8a needs it at once)."""
        if isinstance(event, LinkCarrier) and not event.up:
            self.lost[(node, event.link)] = (self.sim.now, self._frames_ok(node)[event.link])

    def fed(self, node: str, event: object) -> None:
        """After a daemon took an event in: 8b."""
        engine = self.sim.nodes[node].engine
        if not isinstance(event, LinkCarrier) or event.up or engine is None:
            return
        peer = engine.snapshot().peers[0]
        lost = self._unheard_losses(node)
        if len(lost) == len(LINKS) and all(lk.up is not None for lk in peer.links) and peer.alive:
            self.sim._violation(f"{node} was told every link to {peer.name} lost its carrier "
                                "and heard nothing since, but sees it alive (8b)")

    def check_log(self, node: str, output: Any) -> None:
        """8a, on the log line of a declared death."""
        sim = self.sim
        engine = sim.nodes[node].engine
        if not isinstance(output, Log) or engine is None or not output.message.endswith(
                ": is dead"):
            return
        snap = engine.snapshot()
        if snap.fencing is not None and snap.fencing.state == "fenced":
            return  # the fence's result: the peer is dead whatever its links say
        lost = self._unheard_losses(node)
        for lk in snap.peers[0].links:
            age = lk.last_heard_age
            if self.receiving == (node, lk.name) and age == 0:
                continue  # the frame being fed: the timers fired before it was applied
            if lk.name not in lost and age is not None and age < self.deadtime:
                sim._violation(f"{node} declared {snap.peers[0].name} dead while link "
                               f"{lk.name} was heard {age:.3f}s ago and its carrier not "
                               "reported lost since (8a)")

    def check_frame(self, node: str) -> None:
        """8c, after every frame delivered to `node`."""
        sim = self.sim
        peer = sim.nodes[next(n for n in self.names if n != node)]
        engine = sim.nodes[node].engine
        if engine is None or peer.engine is not None or not self.reported:
            return
        told = [self.lost.get((node, ln)) for ln in LINKS]
        if any(rec is None or rec[0] < peer.down_since for rec in told):
            return  # some link was not reported lost since the peer went down
        if engine.snapshot().peers[0].alive:
            sim._violation(f"{node} sees {peer.name} alive again, which has been down since "
                           f"{peer.down_since:.3f}, before every link's carrier loss was "
                           "reported (8c)")
