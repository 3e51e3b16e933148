"""The simulator's fake network: per-link loss, duplication, delay, reordering and partitions.

Owns: `FakeNetwork`, which decides when (and whether) each heartbeat copy reaches its
destination. Everything random comes from the one `random.Random` the cluster passes in, so
a seed fixes the whole trace. Knows nothing about the core's states.

Two media, as in the classic two-cable setup:
- "eth1" (UDP): random delay per datagram, so datagrams reorder; loss and duplication.
- "/dev/ttyS0" (serial): FIFO (a byte stream never reorders), small delay, rarer loss
  (a COBS frame hit by noise), no duplication; the cable can be pulled.

"Working" (the premise of the safety property, docs/core.md §Simulator): a directed link is
*working* while it is not cut and its loss is bounded — the network never drops more than
`MAX_CONSECUTIVE_LOSS` frames in a row on it, and never delays one by more than
`max_delay`. A working link therefore delivers a heartbeat at least every
(MAX_CONSECUTIVE_LOSS + 1) * keepalive + max_delay, which the cluster keeps below deadtime.
A cut link delivers nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

UDP = "eth1"
SERIAL = "/dev/ttyS0"
LINKS = (UDP, SERIAL)
MAX_CONSECUTIVE_LOSS = 2


@dataclass
class LinkModel:
    loss: float
    dup: float
    min_delay: float
    max_delay: float
    fifo: bool
    cut: bool = False
    consecutive_lost: int = 0
    last_arrival: float = 0.0


@dataclass
class FakeNetwork:
    rng: random.Random
    nodes: tuple[str, ...]
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
                             min_delay=0.0005, max_delay=r.choice((0.002, 0.3)), fifo=False)
        return LinkModel(loss=r.choice((0.0, 0.02, 0.1)), dup=0.0, min_delay=0.03,
                         max_delay=0.06, fifo=True)

    def set_cut(self, a: str, b: str, link: str, cut: bool) -> None:
        """Cut or restore a link between a and b, both directions (a partition, a pulled cable)."""
        for src, dst in ((a, b), (b, a)):
            m = self.models[(src, dst, link)]
            if m.cut != cut:  # a restore of a link already restored must not reset the run
                m.consecutive_lost = 0  # of losses, or it could exceed MAX_CONSECUTIVE_LOSS
            m.cut = cut

    def heal(self) -> None:
        """End of the fault phase: every link restored, lossless, short delays."""
        for m in self.models.values():
            m.cut = False
            m.loss = 0.0
            m.dup = 0.0
            m.consecutive_lost = 0

    def working(self, a: str, b: str) -> bool:
        """Is at least one link between a and b working in both directions?"""
        return any(
            not self.models[(a, b, ln)].cut and not self.models[(b, a, ln)].cut for ln in LINKS
        )

    def transmit(self, src: str, dst: str, link: str, now: float) -> list[float]:
        """Arrival times (possibly none, possibly two) of one frame sent at `now`."""
        m = self.models[(src, dst, link)]
        if m.cut:
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
