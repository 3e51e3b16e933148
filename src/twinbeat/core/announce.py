"""When the holder of a group re-announces it (`Announce`), and split-brain detection.

Owns: `PeerWatch`, one per group: what this node last saw the peer do with a group it holds,
and the rule that turns the peer's doings into `Announce(key)` (the driver re-sends the
group's gratuitous ARPs, resources/ipaddr.py) and into the split-brain warning. groups.py
owns the group records and calls the watch from its rules; the watch never changes a group's
state. Must import nothing but events.py and states.py (and nothing doing I/O).

Why. A group's address is answered by whichever node the LAN's ARP caches point at, and
they follow the last gratuitous ARP. Every start of an address sends some, also the start on
a node that took a group over by mistake: it declared the peer dead after a stall (a
one-sided false takeover: the peer never saw a partition), or both links were cut (a split
brain). When that node gives the group back, the clients stay pointed at it, at an address it
no longer has, until their ARP entries expire — 30 s and more (issue #11, items 12-13). Which
node was "right" does not matter to the clients; what matters is that the holder has the last
word. keepalived's master answers a lower-priority advert with its own advert and GARPs at
once; here the peer's frames carry its whole state, so the holder reacts to what they show.

The rule, for a group held here (local HELD) that is not being released in the same step
(the loser of a split brain never announces: the keeper does):
- the peer's advertised state for the group becomes STARTING, HELD, STOPPING or CRITICAL
  (it claims or starts it, holds it too, stops it, failed to stop it): its address may be up
  and may have been announced after ours. The keeper of a split brain thus announces as soon
  as it has won, not only once the loser's stop (service included) is over;
- it goes from one of those to NONE or FAILED, or the peer dies: it let go, its address and
  its own GARPs are gone (the driver cancels them when it removes the address): announce once
  more, so that the last word is the holder's;
- the peer returns after it was declared dead: what it did meanwhile is unknown (a start that
  failed and rolled back leaves no trace in its state, but its GARP went out);
- this node comes to hold the group while the peer is busy with it: the first case, since
  the watch starts afresh whenever the group becomes held here.
Nothing else: a quiet peer costs nothing, and every announce follows a change in the peer's
state, which only its agents' operations (or its death) move, so announces cannot storm.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import Action, Announce, Log
from .states import WireGroupState

# The peer's new state for a group held here, when it may have the address up: why announce.
BUSY_REASONS = {
    WireGroupState.STARTING: "is starting it",
    WireGroupState.HELD: "holds it too",
    WireGroupState.STOPPING: "is stopping it",
    WireGroupState.CRITICAL: "failed to stop it",
}
# The peer's new state after one of those: it let go of the group (its address is gone).
LET_GO_REASONS = {
    WireGroupState.NONE: "released it",
    WireGroupState.FAILED: "failed to start it",
}
DEAD = "is dead"
UNKNOWN = "shows no state for it"  # alive, but its group bytes are not interpreted (mismatch)
BACK = "is back (what it did unseen is unknown)"


def reason(before: WireGroupState | None, theirs: WireGroupState | None,
           alive: bool) -> str | None:
    """Why the peer's move from `before` to `theirs` calls for an announce, or None."""
    if theirs is before:
        return None
    if theirs in BUSY_REASONS:
        return BUSY_REASONS[theirs]
    if theirs is WireGroupState.FAILED:
        # A start we did not see (the peer was cut off, or we had not heard it yet) that
        # failed: it sent gratuitous ARPs before it failed, so the LAN may point at it.
        # (Simulator seeds 2797 and 6264.)
        return LET_GO_REASONS[theirs]
    if before not in BUSY_REASONS:
        return None  # idle to idle: nothing to correct
    if theirs is None:
        return UNKNOWN if alive else DEAD
    return LET_GO_REASONS[theirs]


@dataclass
class PeerWatch:
    """What this node saw the peer do with one group held here; see the module docstring."""

    seen: WireGroupState | None = None  # the peer's state at the last step while held here
    returned: bool = False  # the peer came back from the dead while we held or started it
    split_brain: bool = False  # it held the group too, we keep it, and it has not let go yet

    def forget(self) -> None:
        """The group is neither held nor being started here any more."""
        self.seen, self.returned, self.split_brain = None, False, False

    def hold_anew(self) -> None:
        """The group has just become held here: judge the peer's state afresh."""
        self.seen, self.split_brain = None, False

    def peer_returned(self) -> None:
        self.returned = True

    def step(self, key: str, *, peer: str, theirs: WireGroupState | None, alive: bool,
             keeper: str, me: str, out: list[Action]) -> None:
        """One settling step while the group is held here; `keeper` is who keeps it."""
        before, self.seen = self.seen, theirs
        returned, self.returned = self.returned, False
        if theirs is WireGroupState.HELD and before is not theirs:
            out.append(Log("warning", f"Resource group {key} is held by {peer} too (split "
                                      f"brain): {keeper} keeps it"))
            self.split_brain = keeper == me
        if keeper != me:
            return  # released in this step: the keeper announces, not the loser
        why = reason(before, theirs, alive) or (BACK if returned else None)
        if why is None:
            return
        healed = self.split_brain and theirs not in BUSY_REASONS
        if healed:
            self.split_brain = False
        if healed and alive:
            out.append(Log("info", f"Split brain on {key} healed: re-announcing"))
        else:
            out.append(Log("info", f"Re-announcing resource group {key}: node {peer} {why}"))
        out.append(Announce(key))
