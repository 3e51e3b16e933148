"""Talking heartbeat 3.0.6's message layer to a peer that runs it (issue #14, step 2).

Owns: `HbSession`, this node's side of heartbeat's message layer (reference §1.6, §3):
the control fields of what we send, our sequence numbers and the history kept for
retransmission, the peer's sequence numbers (duplicates, gaps, requests for what we
missed), flow-control ACKs and the node-list reply. The resource negotiation on top is
r1.py's; what counts as the peer being alive is foreign.py's. Must not import anything
doing I/O.

What goes out (`SendForeign`: the engine encodes it per link, netstring on UDP and classic
text on serial, and signs it with the authkeys key):
- every message: the caller's fields first, then `src` (lower-case, our name), `seq`
  (hex, from 1, +1 per sequenced message), `hg` (hex: our persisted generation), `ts`
  (hex wall-clock seconds: the core's time plus `Params.wall_clock_offset`), `ld` and `ttl`
  (`3`: two nodes + heartbeat's default hopfudge), in heartbeat's order. `NS_*` messages
  carry no `seq` and no `ld`, as heartbeat's. No `srcuuid`: heartbeat finds a node by name
  when it sends none. `ld` is `n/a` (heartbeat's own value when /proc/loadavg cannot be
  read): the core reads no files, and heartbeat only shows it.
- `status` every keepalive, with `st` (`up` until comms are up, then `active`), `dt` (our
  deadtime in ms, hex: heartbeat times *us* out by it) and `protocol=1`: we do flow control.
  So heartbeat keeps its own on, and we must (and do) answer its `reqnodes` with the full
  node list (a wrong list would shrink its cluster) and ACK every tenth sequence number it
  sends (`NS_ackmsg`), else its history fills and it logs errors.
- the last HISTORY sequenced messages are kept; `NS_rexmit` is answered by sending them
  again unchanged (same seq, same ts), at most REXMIT_BATCH per request and not the same
  one twice within REXMIT_GAP; what is gone is answered `NS_nak_rexmit`.

What comes in (`accept`): messages of the peer only (foreign.py filters senders). A
sequenced message is new once per (generation, seq): the copy on another link, or a replay,
is a duplicate and goes no further. A lower generation than the one followed is dropped
(heartbeat's "attempted replay attack"). A gap (seq jumps) is asked for again with
`NS_rexmit` for each missing number, every REXMIT_INTERVAL until it arrives, the peer
NAKs it, or MISSING_FOR passes; more than GAP_RESET missing at once restarts the tracking,
as heartbeat does. A message whose `dest` names another node is tracked, then dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from .events import Action, ForeignHeartbeat, SendForeign
from .params import Params

HISTORY = 500  # heartbeat's MAXMSGHIST
REXMIT_BATCH = 50  # messages sent again per request, at most
REXMIT_GAP = 0.24  # s: one message is not sent again more often than this
REXMIT_INTERVAL = 0.25  # s: heartbeat's max_rexmit_delay default; our re-ask interval
MISSING_FOR = 10.0  # s: a gap still open after this is given up (logged)
GAP_RESET = 250  # heartbeat's FLOWCONTROL_LIMIT: a larger gap restarts the tracking
ACK_EVERY = 10  # heartbeat's ACK_MSG_DIV
TTL = "3"
NO_LOAD = "n/a"

Fields = tuple[tuple[str, str], ...]


def hexnum(value: str | None) -> int | None:
    """heartbeat's `%lx` numbers; None when absent, empty, not hex or zero."""
    if not value or len(value) > 16 or any(c not in "0123456789abcdefABCDEF" for c in value):
        return None
    return int(value, 16) or None


def field_of(fields: Fields, name: str) -> str | None:
    """The first field called `name`, as heartbeat looks fields up."""
    return next((v for n, v in fields if n == name), None)


@dataclass
class Sent:
    fields: Fields
    resent_at: float | None = None


@dataclass
class PeerTrack:
    """The peer's sequence numbers in its current generation (heartbeat's seqtrack)."""

    generation: int = 0
    last_seq: int | None = None
    missing: dict[int, float] = field(default_factory=dict)  # seq -> when first missed
    asked_at: float | None = None


class HbSession:
    """See the module docstring. One per node; `peer` is the node speaking heartbeat."""

    def __init__(self, params: Params) -> None:
        self._p = params
        self.seq = 0
        self.history: OrderedDict[int, Sent] = OrderedDict()
        self.track = PeerTrack()
        self.peer_flow_control = True  # the peer's status carries `protocol`
        self.next_status: float | None = None
        self.lost = 0  # peer messages given up on (NAKed or missing too long)

    # ------------------------------------------------------------------ out

    def send(self, fields: Fields, now: float, out: list[Action]) -> None:
        """Send a message of ours: `fields` start with `t`; control fields are added."""
        kind = fields[0][1]
        nosequence = kind.startswith("NS_")
        if self.seq == 0 and kind != "status" and not nosequence:
            # A status first: heartbeat learns a new generation of ours from a status only,
            # and drops anything else of it sent before as a duplicate of the old one's.
            self.status(now, False, out)
        control: list[tuple[str, str]] = [("src", self._p.node)]
        if not nosequence:
            self.seq += 1
            control.append(("seq", f"{self.seq:x}"))
        control += [("hg", f"{self._p.generation:x}"), ("ts", f"{self._ts(now):x}")]
        if not nosequence:
            control.append(("ld", NO_LOAD))
        control.append(("ttl", TTL))
        message = tuple(fields) + tuple(control)
        if not nosequence:
            self.history[self.seq] = Sent(message)
            while len(self.history) > HISTORY:
                self.history.popitem(last=False)
        out.append(SendForeign(message))

    def _ts(self, now: float) -> int:
        return max(1, int(now + self._p.wall_clock_offset))

    def status(self, now: float, active: bool, out: list[Action]) -> None:
        """Our `status` message, and when the next one is due (every keepalive)."""
        p = self._p
        self.send((("t", "status"), ("st", "active" if active else "up"),
                   ("dt", f"{round(p.deadtime * 1000):x}"), ("protocol", "1")), now, out)
        self.next_status = now + p.keepalive

    def status_due(self, now: float) -> bool:
        return self.next_status is None or now >= self.next_status

    def deadline(self) -> float | None:
        """The next status, or the next re-ask for a gap, whichever is first."""
        times = [self.next_status]
        if self.track.missing and self.track.asked_at is not None:
            times.append(self.track.asked_at + REXMIT_INTERVAL)
        return min((t for t in times if t is not None), default=None)

    def advance(self, now: float, out: list[Action]) -> None:
        """Ask again for what is still missing; give up on what is missing too long."""
        t = self.track
        if not t.missing or t.asked_at is None or now < t.asked_at + REXMIT_INTERVAL:
            return
        for seq, since in list(t.missing.items()):
            if now - since >= MISSING_FOR:
                del t.missing[seq]
                self.lost += 1
        self._ask(now, out)

    def _ask(self, now: float, out: list[Action]) -> None:
        t = self.track
        for seq in sorted(t.missing)[:REXMIT_BATCH]:
            self.send((("t", "NS_rexmit"), ("dest", self._p.peer or ""),
                       ("firstseq", str(seq)), ("lastseq", str(seq))), now, out)
        t.asked_at = now if t.missing else None

    # ------------------------------------------------------------------ in

    def forget_peer(self) -> None:
        """The peer is dead or restarted: its sequence numbers start over."""
        self.track = PeerTrack(generation=self.track.generation)

    def accept(self, ev: ForeignHeartbeat, now: float, out: list[Action]) -> bool:
        """Whether the peer's message is new and for us (r1.py acts on it); answers the
        message layer's own messages (NS_rexmit, NS_nak_rexmit, reqnodes) itself."""
        fields = ev.fields
        dest = field_of(fields, "dest")
        for_us = dest is None or dest == self._p.node
        kind = ev.message_type
        if kind.startswith("NS_"):
            if for_us:
                self._on_nosequence(kind, fields, now, out)
            return False
        if not self._sequenced_is_new(ev, now, out) or not for_us:
            return False
        if kind == "status":
            self.peer_flow_control = field_of(fields, "protocol") is not None
        elif kind == "reqnodes":
            nodes = " ".join(n for n in (self._p.node, self._p.peer) if n) + " "
            self.send((("t", "repnodes"), ("dest", ev.peer), ("nodelist", nodes),
                       ("delnodelist", " ")), now, out)
            return False
        return True

    def _sequenced_is_new(self, ev: ForeignHeartbeat, now: float, out: list[Action]) -> bool:
        """heartbeat's sequence rules (reference §3.2, §3.3), ACKs included."""
        seq, gen, t = ev.sequence, ev.generation or 0, self.track
        if seq is None or seq <= 0 or gen < t.generation:
            return False  # no sequence, or heartbeat's "attempted replay attack"
        if ev.message_type == "status" and gen > t.generation:
            self.track = t = PeerTrack(generation=gen)  # a restart: start over
        filled = False
        if t.last_seq is None or seq == t.last_seq + 1:
            t.last_seq = seq
        elif seq > t.last_seq:
            if seq - t.last_seq - 1 > GAP_RESET:
                t.missing.clear()
            else:
                for missed in range(t.last_seq + 1, seq):
                    t.missing.setdefault(missed, now)
                self._ask(now, out)
            t.last_seq = seq
        elif t.missing.pop(seq, None) is None:
            return False  # a duplicate: the same message on another link, or a replay
        else:
            filled = True
        self._ack(seq, filled, now, out)
        return True

    def _ack(self, seq: int, filled: bool, now: float, out: list[Action]) -> None:
        """`NS_ackmsg` (heartbeat's flow control, trigger 0): for an in-order sequence number
        that is a multiple of ACK_EVERY with nothing missing before it, and when a missing
        one arrives, for the highest multiple below the next gap."""
        t = self.track
        if not self.peer_flow_control or t.last_seq is None:
            return
        upto = min(t.missing) - 1 if t.missing else t.last_seq
        acked = upto - upto % ACK_EVERY
        if acked > 0 and (acked == seq or (filled and acked >= seq)):
            self.send((("t", "NS_ackmsg"), ("dest", self._p.peer or ""),
                       ("ackseq", f"{acked:x}")), now, out)

    def _on_nosequence(self, kind: str, fields: Fields, now: float, out: list[Action]) -> None:
        if kind == "NS_rexmit":
            self._resend(fields, now, out)
        elif kind == "NS_nak_rexmit":
            seq = hexnum(field_of(fields, "firstseq"))
            if seq is not None and self.track.missing.pop(seq, None) is not None:
                self.lost += 1

    def _resend(self, fields: Fields, now: float, out: list[Action]) -> None:
        """Send again what the peer asks for (decimal `firstseq`..`lastseq`)."""
        try:
            first = int(field_of(fields, "firstseq") or "")
            last = int(field_of(fields, "lastseq") or "")
        except ValueError:
            return
        if not 0 < first <= last:
            return
        oldest = next(iter(self.history), self.seq + 1)
        for seq in range(first, min(last, first + REXMIT_BATCH - 1) + 1):
            sent = self.history.get(seq)
            if sent is None:
                why = "seqno too low" if seq < oldest else "seqno not found"
                self.send((("t", "NS_nak_rexmit"), ("firstseq", f"{seq:x}"),
                           ("dest", self._p.peer or ""), ("info", why)), now, out)
            elif sent.resent_at is None or now - sent.resent_at >= REXMIT_GAP:
                sent.resent_at = now
                out.append(SendForeign(sent.fields))
