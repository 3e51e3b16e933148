"""A peer that still runs heartbeat 3.0.6: never take over from it (issue #14, step 1).

Owns: `Foreign`, what the peer's heartbeat 3.0.6 messages say (`ForeignHeartbeat`: verified
by the engine with the authkeys key): on which links it is heard, its status, generation and
sequence, whether it is *speaking*; and the heartbeat messages of unknown senders, per link.

Why: twinbeat does not speak heartbeat's protocol yet (step 2), so a heartbeat node cannot
see this node. After its initdead it declares us dead and takes every group (its mach_down),
or holds them already. Taking the groups here too is the split brain of DESIGN.md §9. So,
while the peer speaks heartbeat and no twinbeat frame shows it runs twinbeat (no link up):

- it is **alive**: it is not declared dead (a hook in membership.py) and comms are up
  (node.py), whatever its twinbeat links say;
- this node **holds off**: it claims and starts no group, and gives up what it holds
  (`Situation.held_off`, a hook in groups.py), since the peer takes them anyway; a standby
  or takeover request is refused (handoff.py).

Liveness follows heartbeat's own rules (reference §3.1-§3.3, §4): only `t=status` messages
refresh it; each (generation, sequence) once (the same message on another link refreshes
that link only); a generation below the one followed is a replay (counted, ignored). It ends
when no fresh status arrives on any link for deadtime (+ the links' grace): the peer is then
dead as usual and its groups are taken over, as heartbeat does (a heartbeat node that loses
power must still fail over). Our deadtime, not the peer's `dt`: the ha.cf is shared, and a
peer must not stretch how long it is believed.

twinbeat frames win: while the peer's twinbeat frames keep a link up, its heartbeat messages
change nothing but counters, so that old heartbeat traffic replayed at a twinbeat cluster
cannot make it give up its groups (docs/security.md). Must not import anything doing I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import CoreMisuse
from .events import Action, ForeignHeartbeat, FrameReceived, Log
from .liveness import RejectCounts, grace
from .notices import Notice, PeerDied
from .params import Params
from .snapshot import ForeignLinkSnapshot, ForeignSnapshot

PROTOCOL_HEARTBEAT = "heartbeat-3.0.6"
PROTOCOLS = {PROTOCOL_HEARTBEAT: "heartbeat 3.0.6"}  # as logs and status name them
UNKNOWN_PEER = "unknown-peer"


@dataclass
class ForeignLink:
    """The peer's heartbeat messages on one link."""

    last_heard: float | None = None
    messages: int = 0  # every verified message from the peer, status or not
    replayed: int = 0  # status messages of a generation older than the one followed


class Foreign:
    """See the module docstring. Written by its own methods only; read by status.py."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.links = {ln: ForeignLink() for ln in params.links}
        self.unattributed = {ln: RejectCounts() for ln in params.links}
        self.protocol: str | None = None  # None: never heard
        self.status: str | None = None
        self.generation: int | None = None
        self.sequence: int | None = None
        self.last_status_at: float | None = None
        self.speaking = False
        self.spoke = False  # a fresh status was heard in this run
        self._ended = False  # speaking ended in the last `advance`

    # ------------------------------------------------------------------ timers

    def _expiry(self) -> float | None:
        if not self.speaking or self.last_status_at is None:
            return None
        p = self.params
        return self.last_status_at + p.deadtime + grace(p.keepalive)

    def deadline(self) -> float | None:
        """When the peer stops speaking if no fresh status arrives."""
        return self._expiry()

    def advance(self, now: float, out: list[Action]) -> None:
        """No fresh status for deadtime on any link: it no longer speaks (then membership
        declares it dead, unless twinbeat frames keep it alive)."""
        expiry = self._expiry()
        self._ended = expiry is not None and now >= expiry
        if self._ended:
            self.speaking = False
            out.append(Log("warning", f"Node {self.params.peer}: no {self._name()} status "
                                      f"for deadtime on any link"))

    def deaths(self, notices: list[Notice]) -> list[Notice]:
        """Membership's notices, with a death that ends heartbeat speech read as heartbeat's
        mach_down: the peer was alive and may have held every group."""
        if not self._ended:
            return notices
        every = tuple(range(len(self.params.groups)))
        return [replace(n, busy=every, was_alive=True) if isinstance(n, PeerDied) else n
                for n in notices]

    # ------------------------------------------------------------------ messages

    @staticmethod
    def check(ev: FrameReceived | ForeignHeartbeat) -> None:
        """`CoreMisuse` for a protocol this module does not know (node.py's `_check`)."""
        if isinstance(ev, ForeignHeartbeat) and ev.protocol not in PROTOCOLS:
            raise CoreMisuse(f"unknown protocol {ev.protocol!r}")

    def on_message(self, ev: ForeignHeartbeat, now: float, out: list[Action]) -> None:
        """A verified message in heartbeat's protocol (see the module docstring)."""
        p = self.params
        if ev.peer == p.node:
            return  # our own, looped back (once twinbeat sends heartbeat's messages)
        if ev.peer != p.peer:
            self.unattributed[ev.link].count(UNKNOWN_PEER)
            return
        link = self.links[ev.link]
        if link.last_heard is None:
            out.append(Log("warning", f"Node {ev.peer} speaks {PROTOCOLS[ev.protocol]} protocol "
                                      f"on link {ev.link}: twinbeat cannot talk to it yet; not "
                                      "taking over its resource groups while it is heard"))
        link.last_heard = now
        link.messages += 1
        self.protocol = ev.protocol
        if ev.message_type != "status" or ev.generation is None or ev.sequence is None:
            return
        if self.generation is not None and ev.generation < self.generation:
            link.replayed += 1  # heartbeat's "attempted replay attack"
            return
        if ev.generation == self.generation and self.sequence is not None and (
            ev.sequence <= self.sequence
        ):
            return  # the same status on another link, or an old one
        self.generation, self.sequence, self.status = ev.generation, ev.sequence, ev.status
        self.last_status_at = now
        self.speaking = self.spoke = True

    # ------------------------------------------------------------------ status

    def snapshot(self, now: float) -> ForeignSnapshot | None:
        if self.protocol is None:
            return None
        return ForeignSnapshot(
            protocol=self.protocol,
            speaking=self.speaking,
            status=self.status,
            generation=self.generation,
            last_status_age=None if self.last_status_at is None else now - self.last_status_at,
            links=tuple(
                ForeignLinkSnapshot(name=name, last_heard_age=now - fl.last_heard,
                                    messages=fl.messages, replayed=fl.replayed)
                for name, fl in self.links.items() if fl.last_heard is not None
            ),
        )

    def _name(self) -> str:
        return PROTOCOLS.get(self.protocol or PROTOCOL_HEARTBEAT, "heartbeat 3.0.6")
