"""Helpers for the core's tests with a peer that runs heartbeat 3.0.6 (issue #14, step 2).

`HbPeer` is "prime" running heartbeat: it sends messages with heartbeat's control fields, a
sequence number per sequenced message, on both links (the same message twice, as heartbeat
writes every message to every medium). `sent` reads back what the node sent in heartbeat's
protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

from core_helpers import ETH, TTY, orders

from twinbeat.core import (
    PROTOCOL_HEARTBEAT,
    Action,
    ForeignHeartbeat,
    GroupStarted,
    GroupStopped,
    LeftoversFound,
    Node,
    SendForeign,
    Started,
    StartGroup,
    StopGroup,
    Tick,
)

Fields = tuple[tuple[str, str], ...]


@dataclass
class HbPeer:
    name: str = "prime"
    generation: int = 0x6B06886D
    seq: int = 0

    def message(self, *fields: tuple[str, str], link: str = ETH, new: bool = True,
                seq: int | None = None) -> ForeignHeartbeat:
        kind = fields[0][1]
        full = [*fields, ("src", self.name)]
        sequence = None
        if not kind.startswith("NS_"):
            if seq is None:
                if new:
                    self.seq += 1
                seq = self.seq
            sequence = seq
            full.append(("seq", f"{seq:x}"))
        full += [("hg", f"{self.generation:x}"), ("ts", "6a000000"), ("ttl", "3")]
        status = dict(fields).get("st") if kind == "status" else None
        return ForeignHeartbeat(link, self.name, PROTOCOL_HEARTBEAT, kind, status,
                                self.generation, sequence, tuple(full))

    def send(self, node: Node, now: float, *fields: tuple[str, str]) -> list[Action]:
        """One message on both links, as heartbeat sends it (the second copy a duplicate)."""
        first = self.message(*fields)
        again = self.message(*fields, link=TTY, new=False)
        return node.feed(first, now) + node.feed(again, now)

    def status(self, node: Node, now: float, st: str = "active") -> list[Action]:
        return self.send(node, now, ("t", "status"), ("st", st), ("dt", "2710"),
                         ("protocol", "1"))


def sent(actions: list[Action]) -> list[dict[str, str]]:
    """The heartbeat messages the node sent, as field dicts (first of each name)."""
    out = []
    for a in actions:
        if isinstance(a, SendForeign):
            d: dict[str, str] = {}
            for n, v in a.fields:
                d.setdefault(n, v)
            out.append(d)
    return out


def kinds(actions: list[Action]) -> list[str]:
    return [m["t"] for m in sent(actions) if m["t"] != "status"]


def of_kind(actions: list[Action], kind: str) -> list[dict[str, str]]:
    return [m for m in sent(actions) if m["t"] == kind]


def started(node: Node, t: float = 0.0) -> list[Action]:
    node.feed(Started(), t)
    return node.feed(LeftoversFound(()), t)


def complete(node: Node, actions: list[Action], now: float) -> list[Action]:
    """The agents finish every start and stop ordered (and those their results order)."""
    done: list[Action] = []
    pending = list(orders(actions))
    while pending:
        order = pending.pop(0)
        if isinstance(order, StartGroup):
            more = node.feed(GroupStarted(order.key), now)
        elif isinstance(order, StopGroup):
            more = node.feed(GroupStopped(order.key), now)
        else:
            continue
        done += more
        pending += orders(more)
    return actions + done


def talking(node: Node, peer: HbPeer, t: float = 1.0) -> list[Action]:
    """calc started and heard prime's status (comms up: calc says `starting`)."""
    acts = started(node, 0.0)
    return acts + peer.status(node, t)


def ticks(node: Node, peer: HbPeer, start: float, end: float, step: float = 2.0,
          ) -> list[Action]:
    """prime's status every `step` from `start` to `end`, the node's timers in between."""
    out: list[Action] = []
    t = start
    while t < end:
        out += peer.status(node, t)
        while (due := node.next_deadline()) is not None and due < t + step:
            out += node.feed(Tick(), max(due, t))
        t += step
    return out
