"""The client's ARP cache in the simulator: whose MAC the LAN has for each group's address.

Owns `ArpCache`, a model of what the drivers' gratuitous ARPs do to a client on the LAN
(resources/ipaddr.py), so that the simulator can check the holder's announces (core
announce.py; issue #11, items 12-13): after healing, the client's entry for every group's
address must be the holder's. The LAN is not a heartbeat link: it is never cut, and every
GARP reaches the client; the last one wins (a GARP request overrides the kernel's locktime).

The drivers, as modelled:
- a start adds the address first (IPaddr leads its haresources line) and sends a GARP at
  once, then a burst (GARP_COUNT in all, GARP_INTERVAL apart) and a second burst
  GARP_REPEAT_AFTER later, for as long as it holds the address;
- `Announce(k)` sends the same series again, a few ms later (netlink, then the socket),
  cancelling the one running; it needs the address up, which it is while the core holds;
- any result of a stop, and a failed start, end the series (the agent stops announcing
  before it removes the address), and a crash ends every series of that daemon (its tasks
  die; the address it leaves behind never announces itself).
Randomness comes from its own `random.Random`, seeded from the run's seed, so that adding
the model changed no run's faults.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

GARP_COUNT = 10
GARP_INTERVAL = 0.5
GARP_REPEAT_AFTER = 5.0
START_GARP_MAX = 0.05  # from StartGroup to the address added and its first GARP
ANNOUNCE_DELAY = (0.001, 0.01)  # from Announce to its first GARP

# A GARP due at `time` from `node` for group `key`, valid while the series `token` is current.
Garp = tuple[float, tuple[str, str, int]]


@dataclass
class ArpCache:
    seed: int
    owner: dict[str, str] = field(default_factory=dict)  # group key -> node the client uses
    history: list[tuple[float, str, str]] = field(default_factory=list)  # (when, key, node)
    _series: dict[tuple[str, str], int] = field(default_factory=dict)  # current token
    _tokens: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed * 7919 + 13)

    def _new_series(self, node: str, key: str, first: float) -> Iterator[Garp]:
        self._tokens += 1
        token = self._series[(node, key)] = self._tokens
        t = first
        for n in range(2 * GARP_COUNT):
            yield t, (node, key, token)
            t += GARP_REPEAT_AFTER if n == GARP_COUNT - 1 else GARP_INTERVAL

    def started(self, node: str, key: str, now: float) -> list[Garp]:
        """StartGroup: the address is added and announced within START_GARP_MAX."""
        return list(self._new_series(node, key, now + self.rng.uniform(0, START_GARP_MAX)))

    def announced(self, node: str, key: str, now: float) -> list[Garp]:
        return list(self._new_series(node, key, now + self.rng.uniform(*ANNOUNCE_DELAY)))

    def silenced(self, node: str, key: str) -> None:
        """A stop (or a failed start) ended the node's GARPs for the group."""
        self._series.pop((node, key), None)

    def crashed(self, node: str) -> None:
        for n, k in list(self._series):
            if n == node:
                del self._series[(n, k)]

    def garp(self, node: str, key: str, token: int, now: float) -> None:
        """A GARP reaches the client, unless its series was cancelled meanwhile."""
        if self._series.get((node, key)) == token and self.owner.get(key) != node:
            self.owner[key] = node
            self.history.append((now, key, node))

    def wrong(self, holders: dict[str, str]) -> list[str]:
        """For each group key -> its one holder: the ones the client does not reach there."""
        return [
            f"the client's ARP entry for {key} points at {self.owner.get(key)}, "
            f"but {holder} holds it"
            for key, holder in holders.items() if self.owner.get(key) != holder
        ]
