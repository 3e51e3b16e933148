"""Helpers for the core's unit tests: standard Params, a scripted peer, action filters.

The local node is "calc"; its peer is "prime" (the classic two-node how-to). Group A's
primary is prime, group B's is calc.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from twinbeat.core import (
    Action,
    FrameReceived,
    GroupSpec,
    GroupStarted,
    LeftoversFound,
    Log,
    Node,
    Params,
    RecordPeerGeneration,
    RestartGroup,
    SendForeign,
    SendHeartbeat,
    Started,
    StartGroup,
    StartMonitoring,
    StatusChanged,
    StopGroup,
    StopMonitoring,
    Tick,
)

ETH = "eth0"
TTY = "/dev/ttyS0"
A = "IPaddr::198.18.1.100/24/eth0"  # primary prime
B = "IPaddr::198.18.1.200/24/eth0"  # primary calc
FP = 0x5EED1234

PARAMS = Params(
    node="calc", peer="prime", links=(ETH, TTY), keepalive=2.0, deadtime=10.0,
    warntime=5.0, initdead=20.0, auto_failback=True,
    groups=(GroupSpec(A, "prime"), GroupSpec(B, "calc")), fingerprint=FP, generation=7,
)

# Wire values (docs/internals.md §3)
JOINING, ACTIVE, LEAVING, GONE = 1, 2, 3, 4
NONE, STARTING, HELD, STOPPING, FAILED, CRITICAL = 0, 1, 2, 3, 4, 5
YIELD, WANT = 0x10, 0x20


def params(**kw: object) -> Params:
    return replace(PARAMS, **kw)  # type: ignore[arg-type]


@dataclass
class Peer:
    """The peer "prime", sending frames whose content each test chooses.

    `heard` is calc's latest timestamp prime has received: what its frames echo unless a
    test says otherwise (`echo=`). A frame echoing nothing recent of calc's proves nothing
    (docs/core.md, Freshness), so a scripted peer must echo like a real one."""

    name: str = "prime"
    generation: int = 3
    sequence: int = 0
    heard: int = 0

    def frame(self, now: float, *, link: str = ETH, state: int = ACTIVE,
              groups: bytes = bytes([NONE, NONE]), echo: int | None = None, flags: int = 0,
              fingerprint: int = FP, sequence: int | None = None,
              generation: int | None = None) -> FrameReceived:
        if sequence is None:  # like the sender: u32, wrapping past 0 (never sent)
            self.sequence = (self.sequence + 1) & 0xFFFFFFFF or 1
            sequence = self.sequence
        return FrameReceived(
            link=link, peer=self.name, generation=generation or self.generation,
            sequence=sequence, timestamp_ms=int(now * 1000) or 1,
            echo_ms=self.heard if echo is None else echo,
            echo_delay_ms=0, fingerprint=fingerprint, node_state=state, node_flags=flags,
            groups=groups,
        )


def last_hb(actions: list[Action]) -> SendHeartbeat:
    hbs = [a for a in actions if isinstance(a, SendHeartbeat)]
    assert hbs, f"no heartbeat in {actions}"
    return hbs[-1]


def logs(actions: list[Action]) -> list[str]:
    return [a.message for a in actions if isinstance(a, Log)]


def orders(actions: list[Action]) -> list[Action]:
    """The agents' orders: the actions that are neither logs, status lines, heartbeats (ours
    or heartbeat 3.0.6's messages), state-dir records nor the monitor's orders (those:
    `monitor_orders`)."""
    return [a for a in actions
            if not isinstance(a, Log | StatusChanged | SendHeartbeat | RecordPeerGeneration
                              | StartMonitoring | StopMonitoring | SendForeign)]


def monitor_orders(actions: list[Action]) -> list[Action]:
    """The monitor's orders, and the stops, starts and restarts they must be ordered with."""
    return [a for a in actions
            if isinstance(a, StartMonitoring | StopMonitoring | StartGroup | StopGroup
                          | RestartGroup)]


def joined(p: Params = PARAMS, *, peer: Peer | None = None,
           peer_groups: bytes = bytes([NONE, NONE])) -> tuple[Node, Peer, float]:
    """A node that has started, found no leftovers, and heard its peer (ACTIVE) at t=1.

    Returns (node, peer, echo) where echo is the node's latest heartbeat timestamp.
    """
    peer = peer or Peer()
    node = Node(p, 0.0)
    node.feed(Started(), 0.0)
    acts = node.feed(LeftoversFound(()), 0.0)
    ts = last_hb(acts).timestamp_ms
    peer.heard = ts
    acts = node.feed(peer.frame(1.0, groups=peer_groups), 1.0)
    hbs = [a for a in acts if isinstance(a, SendHeartbeat)]
    return node, peer, hbs[-1].timestamp_ms if hbs else ts


def group_state(node: Node, key: str) -> str:
    return next(g.local_state for g in node.snapshot().groups if g.key == key)


def ts_of(actions: list[Action], default: int) -> int:
    """The timestamp of the last heartbeat in `actions`, else `default`."""
    hbs = [a for a in actions if isinstance(a, SendHeartbeat)]
    return hbs[-1].timestamp_ms if hbs else default


def tick_until(node: Node, until: float) -> list[Action]:
    """Tick at every deadline up to `until`, then at `until`, as the daemon does: a feed at
    least every keepalive while the node speaks (a longer gap is a pause of the node, whose
    time does not count as the peer's silence: core/pause.py)."""
    acts: list[Action] = []
    while (d := node.next_deadline()) is not None and d < until:
        acts += node.feed(Tick(), max(d, node.snapshot().now))
    return acts + node.feed(Tick(), until)


def holding(p: Params = PARAMS, *, peer: Peer | None = None) -> tuple[Node, float]:
    """A node alone (its peer never heard, dead after initdead) holding every group.

    `peer`, when given, has heard the node's last heartbeat (its frames echo it): a peer
    that comes up now and proves itself."""
    node = Node(p, 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    t = p.initdead + 0.05
    acts = tick_until(node, t)
    started = [a.key for a in acts if isinstance(a, StartGroup)]
    for k in started:
        acts += node.feed(GroupStarted(k), t)
    if peer is not None:
        peer.heard = ts_of(acts, peer.heard)
    return node, t
