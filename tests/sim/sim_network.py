"""The simulator's fake network: per-link loss, duplication, delay, reordering and partitions.

Owns: `FakeNetwork`, which decides when (and whether) each heartbeat copy reaches its
destination. Everything random comes from the one `random.Random` the cluster passes in, so
a seed fixes the whole trace. Knows nothing about the core's states.

Two media, as in the classic two-cable setup:
- "eth1" (UDP): random delay per datagram, so datagrams reorder; loss and duplication.
- "/dev/ttyS0" (serial): FIFO (a byte stream never reorders), small delay, rarer loss
  (a COBS frame hit by noise), no duplication; the cable can be pulled.

"Working" (the premise of the safety property, docs/core.md §Simulator): the network never
drops more than `MAX_CONSECUTIVE_LOSS` frames in a row on an uncut link, and never delays one
by more than `MAX_DELAY`, so an uncut link delivers a heartbeat at least every
`warmup` = (MAX_CONSECUTIVE_LOSS + 1) * keepalive + MAX_DELAY, which the cluster keeps below
deadtime. A cut link delivers nothing, and a link just restored has not proven anything yet:
it is *working* only once it has been uncut, both ways, for `warmup`. (Counting it as working
from the instant it is restored let one link's last frame and the other's first one lie more
than deadtime apart while "some link worked" all along: seed 534 of the 10,000.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

UDP = "eth1"
SERIAL = "/dev/ttyS0"
LINKS = (UDP, SERIAL)
MAX_CONSECUTIVE_LOSS = 2
MAX_DELAY = 0.3  # the slowest UDP model below


@dataclass
class LinkModel:
    loss: float
    dup: float
    min_delay: float
    max_delay: float
    fifo: bool
    cut: bool = False
    dark: bool = False  # the cable is pulled (sim_physical.py): a cut the drivers can see
    consecutive_lost: int = 0
    last_arrival: float = 0.0
    restored_at: float = 0.0  # when it was last uncut (links start uncut)


@dataclass
class FakeNetwork:
    rng: random.Random
    nodes: tuple[str, ...]
    warmup: float
    models: dict[tuple[str, str, str], LinkModel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for src in self.nodes:
            for dst in self.nodes:
                if src != dst:
                    for link in LINKS:
                        self.models[(src, dst, link)] = self._fresh(link)

    def _fresh(self, link: str) -> LinkModel:
        r = self.rng
        if link == UDP:
            return LinkModel(loss=r.choice((0.0, 0.05, 0.3)), dup=r.choice((0.0, 0.1)),
                             min_delay=0.0005, max_delay=r.choice((0.002, MAX_DELAY)),
                             fifo=False)
        return LinkModel(loss=r.choice((0.0, 0.02, 0.1)), dup=0.0, min_delay=0.03,
                         max_delay=0.06, fifo=True)

    def set_cut(self, a: str, b: str, link: str, cut: bool, now: float) -> None:
        """Cut or restore a link between a and b, both directions (a partition, a pulled cable).

        Restoring a link that is not cut changes nothing: overlapping faults end one by one.
        """
        for src, dst in ((a, b), (b, a)):
            m = self.models[(src, dst, link)]
            if m.cut and not cut:
                m.restored_at = now
                m.consecutive_lost = 0
            m.cut = cut

    def set_dark(self, a: str, b: str, link: str, dark: bool, now: float) -> None:
        """Pull or plug back the cable of `link` (sim_physical.py): like a cut, and apart
        from the partitions, so that a partition ending does not plug a pulled cable."""
        for src, dst in ((a, b), (b, a)):
            m = self.models[(src, dst, link)]
            if m.dark and not dark:
                m.restored_at = now
                m.consecutive_lost = 0
            m.dark = dark

    def heal(self, now: float) -> None:
        """End of the fault phase: every link restored, lossless, short delays."""
        for m in self.models.values():
            if m.cut or m.dark:
                m.cut = m.dark = False
                m.restored_at = now
                m.consecutive_lost = 0
            m.loss = 0.0
            m.dup = 0.0

    def working(self, a: str, b: str, now: float) -> bool:
        """Is at least one link between a and b uncut both ways, for `warmup` already?"""
        models = self.models
        return any(
            self._proven(models[(a, b, ln)], now) and self._proven(models[(b, a, ln)], now)
            for ln in LINKS
        )

    def _proven(self, m: LinkModel, now: float) -> bool:
        return not m.cut and not m.dark and now - m.restored_at >= self.warmup

    def transmit(self, src: str, dst: str, link: str, now: float) -> list[float]:
        """Arrival times (possibly none, possibly two) of one frame sent at `now`."""
        m = self.models[(src, dst, link)]
        if m.cut or m.dark:
            return []
        if m.consecutive_lost < MAX_CONSECUTIVE_LOSS and self.rng.random() < m.loss:
            m.consecutive_lost += 1
            return []
        m.consecutive_lost = 0
        copies = 2 if self.rng.random() < m.dup else 1
        out = []
        for _ in range(copies):
            t = now + self.rng.uniform(m.min_delay, m.max_delay)
            if m.fifo:
                t = max(t, m.last_arrival)
                m.last_arrival = t
            out.append(t)
        return out
