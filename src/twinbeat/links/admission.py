"""Which received datagrams are worth a MAC check: a budget for senders not yet proven.

Every datagram that looks like a frame costs the engine a full HMAC check before it can be
refused. A third host that floods the heartbeat port with well-formed frames signed with a
wrong key (bench/flood.py's `forged` junk, ~49,000/s from one process here) therefore buys
nearly a whole CPU of checks, and the heartbeats that share that CPU arrive late: the UDP
link's worst gap then passed deadtime at the fast preset (issue #11, item 4).

A real peer sends from one address, and that address proves itself with its first authentic
frame. So: datagrams from a source that has sent an authentic frame on this link are always
checked. Every other source gets its own small budget of checks (`PER_SOURCE_RATE` a
second), so one flooding host cannot use up the budget of the peer's first frame, which
passes at once, flood or not; and all of them together get at most `UNPROVEN_RATE` a second,
so a flood from many (spoofed) addresses costs no more. What exceeds a budget is dropped
unread and counted (`unproven_dropped` in `twinbeat status`). `ucast` links know their peer's
address from ha.cf and trust it from the start.

Before any of this, once a source is proven the kernel passes only one datagram in
`UNPROVEN_SAMPLE` from other sources (links/ownfilter.py): the budgets apply to what it
passes. This only raises the cost of an attack: a flood that forges the peer's own source address is
checked in full, and one from many spoofed addresses can delay a restarted peer's first frame
by a few of its keepalives (docs/security.md). Pure: time is passed in, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Once a source is proven on a link, the kernel passes one datagram in this many from any
# other source (links/ownfilter.py), so a flood from a third host wakes the daemon that much
# less; the budgets below then apply to what it passes.
UNPROVEN_SAMPLE = 64
PER_SOURCE_RATE = 50.0  # MAC checks per second for one unproven source address
PER_SOURCE_BURST = 50.0
UNPROVEN_RATE = 1000.0  # ... and for all unproven sources together
UNPROVEN_BURST = 1000.0
MAX_SOURCES = 256  # unproven sources remembered; the longest quiet is forgotten first
MAX_PROVEN = 16  # proven sources remembered; a new one past this replaces the longest silent


@dataclass
class TokenBucket:
    """`rate` tokens a second, at most `burst` saved; starts full."""

    rate: float
    burst: float
    tokens: float = -1.0  # -1: full at the first use
    updated: float = 0.0

    def take(self, now: float) -> bool:
        """One token if there is one (False: none left now)."""
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass
class SourceBudget:
    """The admission rule above for one link."""

    proven: dict[str, float] = field(default_factory=dict)  # address -> last authentic frame
    unproven: dict[str, TokenBucket] = field(default_factory=dict)
    total: TokenBucket = field(default_factory=lambda: TokenBucket(UNPROVEN_RATE,
                                                                   UNPROVEN_BURST))

    def admit(self, source: str, now: float) -> bool:
        """Whether a datagram from `source` arriving at `now` is checked (False: drop it)."""
        if source in self.proven:
            return True
        # The dict's order is the order sources were last heard in (each is moved to the
        # end): the first one is the longest quiet, forgotten in O(1) under a spoofed flood.
        bucket = self.unproven.pop(source, None)
        if bucket is None:
            if len(self.unproven) >= MAX_SOURCES:
                del self.unproven[next(iter(self.unproven))]
            bucket = TokenBucket(PER_SOURCE_RATE, PER_SOURCE_BURST)
        self.unproven[source] = bucket
        # Both budgets must allow it (a token taken from the first is lost if the second says
        # no: a source only loses budget while the total is exhausted anyway).
        return bucket.take(now) and self.total.take(now)

    def authentic(self, source: str, now: float) -> None:
        """`source` just sent a frame that verified: check everything it sends from now on."""
        self.unproven.pop(source, None)
        if source not in self.proven and len(self.proven) >= MAX_PROVEN:
            del self.proven[min(self.proven, key=self.proven.__getitem__)]
        self.proven[source] = now
