"""How groups move beside a heartbeat 3.0.6 peer: the few group primitives foreign.py and
r1.py use instead of groups.py's claim rules (issue #14).

heartbeat's protocol orders a handoff by messages (the side going standby says `done` only
once its groups are stopped), not by twinbeat's claim and echo, so a group is acquired at
once (CLAIM and ACKED in one step). Every state change still goes through `Groups.move`.
Also here: step 1's hold-off (auto_failback legacy: the peer takes every group, we start
none and give up what we hold) and who holds a group as the peer's messages say. Must not
import anything doing I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import Action, Log, StartGroup
from .records import Group, Negotiation
from .states import GroupLocal, GroupTrigger

if TYPE_CHECKING:  # groups.py imports negotiated_holder from here
    from .groups import Groups

# Busy with the group here (groups.py's BUSY_HERE, and held): it is this node's.
HERE = (GroupLocal.HELD, GroupLocal.RESTARTING, GroupLocal.STARTING, GroupLocal.STOPPING,
        GroupLocal.GIVING_UP, GroupLocal.CRITICAL)


def negotiated_holder(g: Group, node: str, negotiation: Negotiation) -> str | None:
    """The holder while negotiating: this node if it is busy with the group, else the peer
    if its `resource` messages say so."""
    if g.state in HERE:
        return node
    return negotiation.peer if g.index in negotiation.peer_holds else None


def acquire(groups: Groups, g: Group, now: float, out: list[Action]) -> None:
    groups.move(g, GroupTrigger.CLAIM, now, out)
    groups.move(g, GroupTrigger.ACKED, now, out)
    out.append(Log("info", f"acquiring resource group: {g.spec.key}"))
    out.append(StartGroup(g.spec.key))


def toward(groups: Groups, g: Group, wanted: bool, now: float, out: list[Action]) -> None:
    """One step of `g` towards being held here (`wanted`) or not."""
    if wanted:
        if g.state is GroupLocal.NONE:
            acquire(groups, g, now, out)
    elif g.state is GroupLocal.HELD:
        groups.release(g, now, out)
    elif g.state is GroupLocal.CLAIMING:
        groups.move(g, GroupTrigger.WITHDRAW, now, out)


def hold_off(groups: Groups, peer: str | None, now: float, out: list[Action]) -> None:
    """auto_failback legacy beside heartbeat: claim nothing, give up what is held."""
    for g in groups.records:
        if g.held_back:
            continue
        if g.state is GroupLocal.HELD:
            out.append(Log("warning", f"Node {peer} runs heartbeat 3.0.6 and takes every "
                                      f"resource group: giving up {g.spec.key}"))
        toward(groups, g, False, now, out)
