"""Who should hold a resource group, given a view of every live node.

Owns: the deterministic choice of a group's desired holder (`desired_holder`) and the node
rank used to break ties (`rank`). Pure functions over `NodeView`s (and the `GroupView` they
carry); groups.py decides *when* to act on the answer (claims, acks, stop-then-start).
Must not import anything doing I/O, nor any module holding state.

Rules (docs/core.md §Ownership):
- A node is *eligible* for a group when it is ACTIVE, runs the same configuration, and its
  state for the group is neither FAILED nor CRITICAL. It *may acquire* when, besides, it is not
  isolated (ping configured and no ping node answering).
- If any node reports the group CRITICAL (a failed stop), nobody else may start it: None.
- If nobody may acquire, an eligible (isolated) holder keeps it; otherwise nobody gets it.
- A takeover request (WANT) wins; then nodes not in standby (YIELD) are preferred, nodes in
  standby being the last resort (a standby node still takes over from a dead peer).
- auto_failback on: the primary, when it is in that pool. Otherwise the current holder keeps
  it; two holders (split brain after both links were cut) or two claims are settled by rank.
- Nobody holds the group and its primary is still joining (heard, but its start-up is under
  way): wait for it rather than start the group elsewhere, only to stop it again (auto_failback
  on) or keep it away from its preferred node for good (off) because one daemon started first.
- Rank: the group's primary first, then the other nodes by name. The split-brain rule is thus
  "the primary keeps the group; if the primary is not among the holders, the holder whose name
  sorts first keeps it" — the same with auto_failback on or off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .states import WireGroupState

HOLDING = frozenset({WireGroupState.STARTING, WireGroupState.HELD})


@dataclass(frozen=True)
class GroupView:
    """A node's state for one group, as advertised (this node's own, or from the peer's latest
    applied frame)."""

    state: WireGroupState = WireGroupState.NONE
    yield_: bool = False
    want: bool = False


@dataclass(frozen=True)
class NodeView:
    name: str
    active: bool
    ping_configured: bool
    ping_ok: bool
    group: GroupView
    joining: bool = False  # alive and about to become active (its start-up is under way)

    @property
    def isolated(self) -> bool:
        return self.ping_configured and not self.ping_ok


def rank(primary: str, name: str) -> tuple[int, str]:
    """Sort key: the primary first, then by node name."""
    return (0 if name == primary else 1, name)


def best(primary: str, views: Sequence[NodeView]) -> str | None:
    if not views:
        return None
    return min(views, key=lambda v: rank(primary, v.name)).name


def eligible(v: NodeView) -> bool:
    return v.active and v.group.state not in (WireGroupState.FAILED, WireGroupState.CRITICAL)


def desired_holder(primary: str, views: Sequence[NodeView], auto_failback: bool) -> str | None:
    """The node that should hold the group, or None when nobody should acquire it."""
    if any(v.group.state == WireGroupState.CRITICAL for v in views):
        return None
    elig = [v for v in views if eligible(v)]
    reach = [v for v in elig if not v.isolated]
    if not reach:
        return best(primary, [v for v in elig if v.group.state in HOLDING])
    if any(v.joining and v.name == primary for v in views) and not any(
        v.group.state in HOLDING for v in views
    ):
        return None
    return _among_reachable(primary, reach, auto_failback)


def _among_reachable(primary: str, reach: Sequence[NodeView], auto_failback: bool) -> str | None:
    """The rules once somebody may acquire: WANT, then standby, failback, holder, rank."""
    wants = [v for v in reach if v.group.want]
    if wants:
        return best(primary, wants)
    pool = [v for v in reach if not v.group.yield_] or reach
    if auto_failback and any(v.name == primary for v in pool):
        return primary
    holders = [v for v in pool if v.group.state in HOLDING]
    return best(primary, holders or pool)
