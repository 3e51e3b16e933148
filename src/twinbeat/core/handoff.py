"""`twinbeat standby` / `twinbeat takeover`: when a request is refused, and what it moves.

Owns: the request rules — a valid `which` and the groups it selects, when a request is
refused (heartbeat's `hb_standby` refuses with nobody to take the groups), applying it (the
groups' YIELD/WANT flags, through `Group.stand_by`/`Group.pull`) — and `HandoffPlan`, a pure,
typed plan of what a request moves. The daemon asks for the plan before feeding the
request, answers at once if it is refused, and otherwise waits until
`plan.complete(snapshot)`; it decides nothing itself. Who holds a group is groups.py's
answer. Must not import anything doing I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CoreMisuse
from .events import Action, Log, StandbyRequested, TakeoverRequested
from .groups import Groups
from .membership import LivePeer
from .params import Params
from .records import Group, Situation
from .snapshot import Snapshot
from .states import WireNodeState

HandoffRequest = StandbyRequested | TakeoverRequested

NO_PEER = "there is no peer (ha.cf names one node)"
PEER_DEAD = "the peer is dead"
WHICH = ("local", "foreign", "all")  # `twinbeat standby|takeover [local|foreign|all]`


def check_which(which: str) -> None:
    if which not in WHICH:
        raise CoreMisuse(f"which must be one of {WHICH}, not {which!r}")


def standby_refusal(active: bool, peer: LivePeer | None) -> str | None:
    """Why a standby request is refused here, or None (heartbeat refuses with nobody to take
    the groups: an active peer running the same configuration)."""
    if active and peer is not None and peer.config_match and (
        peer.node_state is WireNodeState.ACTIVE
    ):
        return None
    return "no other active node to take the resource groups"


def takeover_refusal(active: bool) -> str | None:
    return None if active else "node not active"


def selected(groups: Groups, which: str) -> list[Group]:
    """The groups a request is about: `local` = this node is their primary (haresources)."""
    me = groups.node
    return [
        g for g in groups.records
        if which == "all" or (which == "local") == (g.spec.primary == me)
    ]


def standby(groups: Groups, which: str, refusal: str | None, out: list[Action]) -> None:
    """`twinbeat standby`: YIELD the selected groups (see `standby_refusal`)."""
    if refusal is not None:
        out.append(Log("warning", f"Standby request [{which}] refused: {refusal}"))
        return
    for g in selected(groups, which):
        g.stand_by()
    out.append(Log("info", f"Going standby [{which}]."))


def takeover(groups: Groups, which: str, refusal: str | None, out: list[Action]) -> None:
    """`twinbeat takeover`: WANT the selected groups not held here (see `takeover_refusal`)."""
    if refusal is not None:
        out.append(Log("warning", f"Takeover request [{which}] refused: {refusal}"))
        return
    for g in selected(groups, which):
        g.pull()
    out.append(Log("info", f"Takeover requested [{which}]."))


@dataclass(frozen=True)
class HandoffPlan:
    """The groups a standby/takeover moves, from where to where, or why it is refused.

    `keys` are the groups `which` selects that `source` holds now (standby: this node to the
    peer; takeover: the peer to this node). When `refusal` is set, nothing moves and `keys` is
    empty; `source`/`target` are None only when there is no peer at all.
    """

    keys: tuple[str, ...]
    source: str | None
    target: str | None
    refusal: str | None = None

    def complete(self, snapshot: Snapshot) -> bool:
        """Every planned group is now held by the target, as the snapshot's `holder` says (a
        node starting the group counts); vacuously true for a refused plan."""
        holders = {g.key: g.holder for g in snapshot.groups}
        return all(holders.get(key) == self.target for key in self.keys)


def plan_handoff(
    request: HandoffRequest, params: Params, groups: Groups, s: Situation
) -> HandoffPlan:
    """The plan for `request` in situation `s` (pure: changes nothing).

    Refused, in this order: no peer configured; the peer dead (nothing could move, and a
    takeover would be moot); then exactly when the core itself refuses the request (standby:
    no active peer running our configuration; takeover: this node not active). Raises
    `CoreMisuse` for a `which` other than local/foreign/all, like `Node.feed`.
    """
    check_which(request.which)
    me, peer_name = params.node, params.peer
    standby = isinstance(request, StandbyRequested)
    source, target = (me, peer_name) if standby else (peer_name, me)
    if peer_name is None:
        return HandoffPlan((), source, target, NO_PEER)
    if s.peer is None:
        return HandoffPlan((), source, target, PEER_DEAD)
    refusal = standby_refusal(s.active, s.peer) if standby else takeover_refusal(s.active)
    if refusal is not None:
        return HandoffPlan((), source, target, refusal)
    keys = tuple(
        g.spec.key for g in selected(groups, request.which) if groups.holder(g, s.peer) == source
    )
    return HandoffPlan(keys, source, target)
