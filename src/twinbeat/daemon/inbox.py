"""The core task's input: one bounded queue per link, and one that never drops for the rest.

Owns the queues between the drivers and the one core task (daemon/root.py), and the rules of
who may crowd out whom. A junk flood used to become one event per datagram in a single
1,024-slot queue shared with the serial link, the ping results and the agents' results, so at
tens of thousands of datagrams a second the real heartbeats were dropped with the junk and
the peer was declared dead while the serial cable was intact (issue #11). Now:

- What the wire refuses never gets here: the engine counts it in the driver's receive
  callback and returns nothing to queue (engine.py). Only authentic frames are queued.
- **Frames**: one bounded FIFO per link (`depth`). When a link's queue is full its *oldest*
  frame is dropped and counted on that link (`dropped`): a flood on one link (say, replays of
  a captured frame) can only push out that link's own frames, never another link's, and the
  newest heartbeat, the only one worth anything, is the one kept.
- **Everything else** (agents' results, standby/takeover commands, ping reachability,
  shutdown): one unbounded FIFO, never dropped. These are rare, and bounded by what the
  daemon itself started or was asked; losing a `GroupStarted` would lose a fact the core
  cannot learn again.
- `take(budget)` hands the core the control events first, then the links' frames round
  robin, one per link per turn, starting at a different link each time: every link is served
  at the same rate whatever another one receives.

**Fed at once when idle** (issue #17): when the core task is asleep with nothing queued, an
authentic frame is fed there and then from the driver's receive callback instead of being
queued for the core task to wake up to. At a 10 ms keepalive that is most frames, and each one
used to cost a second task step and a second pass of trio's loop. Only `DIRECT_FEEDS` frames
go this way per sleep of the core task; after them frames queue and wake it, so a burst is
bounded and fair exactly as before. After a direct feed the core task's sleep is moved to the
core's new next deadline, earlier or later: a keepalive sent early with the peer's frame must
not leave a wake-up behind at the time it was due. A feed that stops the daemon wakes it.

`serve` is the core task itself. It sleeps until something is queued or the core's next
deadline, feeds what is queued in batches bounded by count and time, and after each batch feeds
`Tick` if a deadline has passed, so heartbeats go out on time whatever the backlog. Each frame
is fed at the time it was delivered, so the core judges a link by when its frame arrived, not
by when the core got to it. (The delivery time is when the driver read it: a frame that waited
in the kernel while this process was not running counts from when it was read.)

Must not import the core's internals or do I/O; trio is only for the core task's waiting.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable

import trio

from twinbeat.core import Event, LinkCarrier, LinkEvent, Tick

# Authentic frames per link the core may fall behind by (at the fastest keepalive, 10 ms,
# 0.64 s of heartbeats) before the oldest are dropped.
LINK_DEPTH = 64
# The core task feeds at most this many events, or for at most this long, per wake-up before it
# fires the core's timers and lets the links run again: a heartbeat is never late by more than
# one batch (a core feed takes a fraction of a millisecond).
CORE_BATCH = 64
CORE_BATCH_TIME = 0.002
# Frames fed straight from a driver's callback per sleep of the core task (module docstring):
# both links' heartbeats of one keepalive, and a little more.
DIRECT_FEEDS = 4

Feed = Callable[[Event, "float | None"], None]  # feed one event at a time (None: now)

# (event, the time it was delivered; None: feed it at the time it is taken)
Entry = tuple[Event, float | None]


class Inbox:
    """The core task's queues. See the module docstring."""

    def __init__(self, links: Iterable[str], depth: int = LINK_DEPTH) -> None:
        self._frames: dict[str, deque[tuple[LinkEvent, float]]] = {
            link: deque(maxlen=depth) for link in links
        }
        self._control: deque[Event] = deque()
        self._order = list(self._frames)
        self._turn = 0  # which link `take` starts with
        self._wakeup = trio.Event()
        self.dropped = dict.fromkeys(self._frames, 0)  # frames dropped as their queue was full
        # While the core task sleeps: its sleep, and how to feed and ask the core (`serve`).
        self._parked: trio.CancelScope | None = None
        self._direct_left = 0
        self._feed: Feed = lambda event, at: None
        self._next_deadline: Callable[[], float | None] = lambda: None
        self._stopped: Callable[[], bool] = lambda: False

    def relink(self, links: Iterable[str]) -> None:
        """A reload's links: a queue for each new one; a removed link's queue goes, with the
        frames still in it, and so do its queued carrier reports (the core no longer knows
        that link)."""
        links = list(links)
        self._control = deque(e for e in self._control
                              if not isinstance(e, LinkCarrier) or e.link in links)
        depth = next(iter(self._frames.values())).maxlen if self._frames else LINK_DEPTH
        self._frames = {link: self._frames.get(link) or deque(maxlen=depth) for link in links}
        self._order = list(self._frames)
        self._turn = 0
        self.dropped = {link: self.dropped.get(link, 0) for link in self._frames}

    # -- producers: never block ------------------------------------------------------------

    def put_frame(self, link: str, event: LinkEvent, at: float) -> None:
        """Queue an authentic frame delivered on `link` at `at`; when full, drop the oldest.
        Or feed it at once, if the core task sleeps with nothing queued (module docstring)."""
        sleep = self._parked
        if sleep is not None and self._direct_left and not len(self):
            self._direct_left -= 1
            self._feed(event, at)
            if self._stopped():
                self._wakeup.set()
            else:
                deadline = self._next_deadline()
                sleep.deadline = math.inf if deadline is None else deadline
            return
        queue = self._frames[link]
        if len(queue) == queue.maxlen:
            self.dropped[link] += 1
        queue.append((event, at))
        self._wakeup.set()

    def send_nowait(self, event: Event) -> None:
        """Queue a non-frame event; never dropped, never blocks."""
        self._control.append(event)
        self._wakeup.set()

    async def send(self, event: Event) -> None:
        """`send_nowait` for async callers (a checkpoint, like a channel's send)."""
        self.send_nowait(event)
        await trio.lowlevel.checkpoint()

    # -- the consumer: the core task -------------------------------------------------------

    def __len__(self) -> int:
        return len(self._control) + sum(len(q) for q in self._frames.values())

    async def wait(self) -> None:
        """Return once something is queued (at once, after a checkpoint, if it already is)."""
        if len(self):
            await trio.lowlevel.checkpoint()
            return
        self._wakeup = trio.Event()
        await self._wakeup.wait()

    def take(self, budget: int) -> list[Entry]:
        """Up to `budget` entries: control events first, then frames round robin by link."""
        batch: list[Entry] = []
        while self._control and len(batch) < budget:
            batch.append((self._control.popleft(), None))
        n = len(self._order)
        order = [self._frames[self._order[(self._turn + i) % n]] for i in range(n)]
        self._turn = (self._turn + 1) % n if n else 0
        queues = [q for q in order if q]
        while queues and len(batch) < budget:
            for queue in queues[: budget - len(batch)]:
                batch.append(queue.popleft())
            queues = [q for q in queues if q]
        return batch

    # -- the core task ---------------------------------------------------------------------

    async def serve(
        self, next_deadline: Callable[[], float | None], feed: Feed, stopped: Callable[[], bool]
    ) -> None:
        """Feed the queued events and the core's timers until `stopped()` (module docstring)."""
        self._feed, self._next_deadline, self._stopped = feed, next_deadline, stopped
        try:
            while not stopped():
                deadline = next_deadline()
                with trio.move_on_at(math.inf if deadline is None else deadline) as sleep:
                    self._parked, self._direct_left = sleep, DIRECT_FEEDS
                    try:
                        await self.wait()
                    finally:
                        self._parked = None
                self._feed_batch(next_deadline, feed, stopped)
        finally:
            self._feed = lambda event, at: None

    def _feed_batch(
        self, next_deadline: Callable[[], float | None], feed: Feed, stopped: Callable[[], bool]
    ) -> None:
        """Up to CORE_BATCH events (for up to CORE_BATCH_TIME), then `Tick` if one is due.

        One `take(1)` per event, so that what the time bound leaves stays queued; `take`'s
        rotating start keeps that round robin.
        """
        stop = trio.current_time() + CORE_BATCH_TIME
        for _ in range(CORE_BATCH):
            if stopped() or trio.current_time() >= stop:
                break  # ShutdownComplete, or the timers and the links go first
            entries = self.take(1)
            if not entries:
                break
            feed(*entries[0])
        deadline = next_deadline()
        if not stopped() and deadline is not None and trio.current_time() >= deadline:
            feed(Tick(), None)
