"""A peer that runs heartbeat 3.0.6: heard, answered in its protocol, never split-brained.

Owns: `Foreign`, what the peer's heartbeat 3.0.6 messages say (`ForeignHeartbeat`: verified
by the engine with the authkeys key): on which links it is heard, its status, generation and
sequence, whether it is *speaking*; the heartbeat messages of unknown senders, per link; and
which protocol we speak to the peer (the per-peer protocol, ha.cf `peer_protocol`),
composing hbsession.py (heartbeat's message layer) and r1.py (its resource negotiation).

The peer **speaks** heartbeat while a fresh `t=status` arrived within deadtime (+ the links'
grace) on any link. Liveness follows heartbeat's own rules (reference §3.1-§3.3, §4): only
status messages refresh it; each (generation, sequence) once (the same message on another
link refreshes that link only); a generation below the one followed is a replay (counted,
ignored). Our deadtime, not the peer's `dt`: the ha.cf is shared, and a peer must not stretch
how long it is believed. While it speaks and no twinbeat frame shows it runs twinbeat (no
link up), it is **alive** (a hook in membership.py: never declared dead, comms are up).

What we do then depends on `Params.peer_protocol` and auto_failback (issue #14):
- **negotiate** (auto or heartbeat, auto_failback on|off): we speak heartbeat's protocol to
  it (`talks`: status every keepalive, answers, r1.py's negotiation), and groups move by
  heartbeat's rules (r1.py) instead of the native claim rules. In auto mode we start talking
  only once it is heard speaking (a heartbeat node always speaks first; two twinbeat nodes
  so never exchange a heartbeat message), and stop when it falls silent or a twinbeat link
  comes up: twinbeat frames win, so that old heartbeat traffic replayed at a twinbeat
  cluster cannot move its groups (docs/security.md). `heartbeat` talks from the start and
  ignores the peer's twinbeat frames (node.py).
- **hold off** (auto_failback legacy: heartbeat's ip-request hand-off is not spoken here):
  we stay silent, so heartbeat takes every group after its initdead (its mach_down), and we
  claim and start none and give up what we hold (`Situation.held_off`, groups.py); standby
  and takeover requests are refused (handoff.py). This is step 1 of issue #14.
- `twinbeat`: heartbeat messages are counted and otherwise ignored.

When it stops speaking (no fresh status for deadtime on any link) it is dead as usual, its
groups are taken over by the native rules (heartbeat's mach_down), fencing first when
configured, and a death that ends its speech counts as one of a peer that may have held
every group. Must not import anything doing I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from .errors import CoreMisuse
from .events import (
    Action,
    ForeignHeartbeat,
    FrameReceived,
    LinkCarrier,
    Log,
    StandbyRequested,
    TakeoverRequested,
)
from .groups import Groups
from .hbgroups import hold_off
from .hbsession import HbSession
from .liveness import RejectCounts, grace
from .membership import Membership
from .notices import Notice, PeerDied
from .params import Params
from .r1 import R1
from .records import Negotiation, Situation
from .snapshot import ForeignLinkSnapshot, ForeignSnapshot
from .states import Phase

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
        self.paused = 0.0  # this node's pauses since that status: not silence (pause.py)
        self.speaking = False
        self.spoke = False  # a fresh status was heard in this run
        self._ended = False  # speaking ended in the last `advance`
        self.session = HbSession(params)
        self.r1 = R1(params, self.session)
        self.negotiating = False  # r1.py is in charge of the groups
        self.talking = False  # as of the last `speak`
        self._left = False  # our `shutdone` is sent

    # ------------------------------------------------------------------ modes

    @property
    def ignored(self) -> bool:
        return self.params.peer_protocol == "twinbeat"

    def talks(self, native_alive: bool) -> bool:
        """Whether we speak heartbeat's protocol to the peer now (see the docstring)."""
        p = self.params
        if self.ignored or p.legacy_failback:
            return False
        return p.peer_protocol == "heartbeat" or (self.speaking and not native_alive)

    def holds_off(self, native_alive: bool) -> bool:
        """Step 1's hold-off: the peer speaks, and we cannot talk to it (legacy)."""
        return self.params.legacy_failback and self.speaking and not native_alive and (
            not self.ignored)

    def in_charge(self, native_alive: bool) -> bool:
        """Whether r1.py moves the groups now (the peer speaks, and we talk to it)."""
        return self.negotiating and self.speaking and self.talks(native_alive)

    def negotiation(self, native_alive: bool) -> Negotiation | None:
        if not self.in_charge(native_alive) or self.params.peer is None:
            return None
        return Negotiation(self.params.peer, frozenset(self.r1.peer_holds), self.r1.refusal())

    def request(self, ev: StandbyRequested | TakeoverRequested, now: float,
                out: list[Action]) -> None:
        """`twinbeat standby|takeover` while negotiating: heartbeat's hb_standby (our
        ask_resources) or hb_takeover (the peer's standby for the rest)."""
        if isinstance(ev, StandbyRequested):
            self.r1.request_standby(ev.which, now, out)
        elif (refusal := self.r1.request_takeover(ev.which, now, out)) is not None:
            out.append(Log("warning", f"Takeover request [{ev.which}] refused: {refusal}"))
        else:
            out.append(Log("info", f"Takeover requested [{ev.which}]: asking "
                                   f"{self.params.peer} to go standby (hb_takeover)."))

    def comms_up(self, now: float, out: list[Action]) -> None:
        if self.negotiating:
            self.r1.comms_up(now, out)

    def step(self, s: Situation, groups: Groups, out: list[Action]) -> bool:
        """Settle the groups when the peer's protocol rules them (r1.py's negotiation, or
        step 1's hold-off); False: groups.py's rules do."""
        if s.negotiation is not None:
            self.r1.step(s.now, groups, out)
        elif s.held_off:
            hold_off(groups, self.params.peer, s.now, out)
        return s.negotiation is not None or s.held_off

    def leave(self, now: float, out: list[Action],
              step_leaving: Callable[[float, list[Action]], bool]) -> bool:
        """A settling pass while we leave (groups.py's `step_leaving`), said to a heartbeat
        peer around it; whether everything is released."""
        self.leaving(now, False, out)  # heartbeat's peer hears it first
        released = step_leaving(now, out)
        if released:
            self.leaving(now, True, out)
        return released

    def reconfigure(self, params: Params) -> None:
        """A reload (reconfigure.py): links added or removed; new groups or timers start
        the negotiation afresh with the peer (its files changed too)."""
        self.links = {ln: self.links.get(ln) or ForeignLink() for ln in params.links}
        self.unattributed = {ln: self.unattributed.get(ln) or RejectCounts()
                             for ln in params.links}
        self.params = self.session._p = params
        if params.groups != self.r1._p.groups:
            self.r1, self.negotiating = R1(params, self.session), False
        else:
            self.r1._p = params

    def leaving(self, now: float, released: bool, out: list[Action]) -> None:
        """Our graceful stop, said to a heartbeat peer: first `resource rsc_hold=none
        info=shutdown`, and once everything is stopped, `shutdone`."""
        if not self.talking or self._left:
            return
        if released:
            self._left = True
            self.r1.shutdown_done(now, out)
        else:
            self.r1.shutting_down(now, out)

    # ------------------------------------------------------------------ timers

    def _expiry(self) -> float | None:
        if not self.speaking or self.last_status_at is None:
            return None
        p = self.params
        return self.last_status_at + p.deadtime + grace(p.keepalive) + self.paused

    def deadline(self) -> float | None:
        """When the peer stops speaking, our next heartbeat message, or r1.py's timers."""
        times = [self._expiry()]
        if self.talking:
            times.append(self.session.deadline())
        if self.negotiating:
            times.append(self.r1.deadline())
        return min((t for t in times if t is not None), default=None)

    def pause(self, excess: float, membership: Membership) -> None:
        """This node was paused (pause.py): neither protocol counts the excess as silence."""
        self.paused += excess
        membership.paused(excess)

    def advance(self, now: float, membership: Membership, out: list[Action]) -> list[Notice]:
        """Timers: the peer stops speaking (see `_expire`), then membership's (whose notices
        are returned, a death that ends heartbeat speech read as `deaths` says)."""
        self._expire(now, out)
        foreign = self.speaking if self.spoke else None
        return self.deaths(membership.advance(now, out, foreign=foreign))

    def carrier(self, ev: LinkCarrier, last_ts: int | None, membership: Membership,
                out: list[Action]) -> list[Notice]:
        """A link's physical layer (membership.py `carrier`). Its speed is twinbeat's: a
        peer that speaks heartbeat is not killed by it, only by heartbeat's own deadtime."""
        foreign = self.speaking if self.spoke else None
        return self.deaths(membership.carrier(ev.link, ev.up, last_ts, out, foreign=foreign))

    def _expire(self, now: float, out: list[Action]) -> None:
        """No fresh status for deadtime on any link: it no longer speaks (then membership
        declares it dead, unless twinbeat frames keep it alive)."""
        expiry = self._expiry()
        self._ended = expiry is not None and now >= expiry
        if self._ended:
            self.speaking = self.negotiating = False
            self.session.forget_peer()
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

    def speak(self, now: float, phase: Phase, native_alive: bool, out: list[Action]) -> None:
        """Our side of heartbeat's message layer, when we talk it: gaps asked for again,
        and a status every keepalive (node.py calls this after settling): `up` while
        starting, `active` from comms up until our `shutdone`."""
        st = None if phase is Phase.GONE else "active" if phase in (
            Phase.ACTIVE, Phase.LEAVING) else "up"
        self.talking = self.talks(native_alive) and st is not None and not self._left
        if not self.talking:
            return
        self.session.advance(now, out)
        if self.session.status_due(now):
            self.session.status(now, st == "active", out)

    # ------------------------------------------------------------------ messages

    @staticmethod
    def check(ev: FrameReceived | ForeignHeartbeat | LinkCarrier) -> None:
        """`CoreMisuse` for a protocol this module does not know (node.py's `_check`)."""
        if isinstance(ev, ForeignHeartbeat) and ev.protocol not in PROTOCOLS:
            raise CoreMisuse(f"unknown protocol {ev.protocol!r}")

    def hears(self, ev: FrameReceived) -> bool:
        """Whether a twinbeat frame counts: not the peer's with `peer_protocol heartbeat`."""
        return self.params.peer_protocol != "heartbeat" or ev.peer != self.params.peer

    def on_message(self, ev: ForeignHeartbeat, now: float, out: list[Action], *,
                   groups: Groups, phase: Phase, membership: Membership) -> None:
        """A verified message in heartbeat's protocol (see the module docstring)."""
        active, native_alive = phase is Phase.ACTIVE, membership.live_peer() is not None
        p = self.params
        if ev.peer == p.node:
            return  # our own, looped back
        if ev.peer != p.peer:
            self.unattributed[ev.link].count(UNKNOWN_PEER)
            return
        link = self.links[ev.link]
        if link.last_heard is None:
            out.append(Log("warning", f"Node {ev.peer} speaks {PROTOCOLS[ev.protocol]} protocol "
                                      f"on link {ev.link}: {self._answer()}"))
        link.last_heard = now
        link.messages += 1
        self.protocol = ev.protocol
        if self.ignored:
            return
        if ev.message_type == "status":
            self._on_status(ev, link, now, out)
        self._negotiate(ev, now, out, groups=groups, active=active, native_alive=native_alive)

    def _answer(self) -> str:
        p = self.params
        if self.ignored:
            return "ignored (peer_protocol twinbeat)"
        if p.legacy_failback:
            return ("twinbeat does not speak its auto_failback legacy hand-off; not taking "
                    "over its resource groups while it is heard")
        return "answering in it (its resource negotiation, haresources mode)"

    def _on_status(self, ev: ForeignHeartbeat, link: ForeignLink, now: float,
                   out: list[Action]) -> None:
        if ev.generation is None or ev.sequence is None:
            return
        if self.generation is not None and ev.generation < self.generation:
            link.replayed += 1  # heartbeat's "attempted replay attack"
            return
        if ev.generation == self.generation and self.sequence is not None and (
            ev.sequence <= self.sequence
        ):
            return  # the same status on another link, or an old one
        peer = self.params.peer
        if self.generation is not None and ev.generation > self.generation:
            out.append(Log("info", f"Heartbeat restart on node {peer}"))
            self.negotiating = False  # it holds nothing now: negotiate afresh
        elif self.spoke and not self.speaking:
            out.append(Log("critical", f"Cluster node {peer} returning after partition."))
        self.generation, self.sequence, self.status = ev.generation, ev.sequence, ev.status
        self.last_status_at, self.paused = now, 0.0
        self.speaking = self.spoke = True

    def _negotiate(self, ev: ForeignHeartbeat, now: float, out: list[Action], *,
                   groups: Groups, active: bool, native_alive: bool) -> None:
        """Hand the message to the message layer and the negotiation, when we talk."""
        if not self.talks(native_alive):
            return
        if self.speaking and not self.negotiating:
            # A peer already active may have taken groups over unseen (it restarted during a
            # partition): ask it, as at our own start, so that both sides' failback rules
            # sort out what both hold. A peer still starting asks us itself.
            ask = not active or self.status == "active"
            self.r1.enter(groups, stable=not ask)
            self.negotiating = True
            if active and ask:
                self.r1.comms_up(now, out)
        if self.session.accept(ev, now, out) and self.negotiating:
            self.r1.on_message(ev.message_type, ev.fields, now, groups, out)

    # ------------------------------------------------------------------ status

    def mode(self, native_alive: bool) -> str:
        """What we do about the peer's heartbeat messages, in the status's words."""
        if not self.speaking:
            return "silent"
        if self.holds_off(native_alive):
            return "holding off"
        return "negotiating" if self.in_charge(native_alive) else "ignored"

    def snapshot(self, now: float, native_alive: bool = False) -> ForeignSnapshot | None:
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
            mode=self.mode(native_alive),
        )

    def _name(self) -> str:
        return PROTOCOLS.get(self.protocol or PROTOCOL_HEARTBEAT, "heartbeat 3.0.6")
