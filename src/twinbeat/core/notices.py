"""What membership.py tells the rest of the core about the peer.

Owns: `LivePeer`, the frozen view of the live peer the groups decide on, and the `Notice`s
membership returns to node.py (the peer died, came back, holds groups, needs an answer).
Plain frozen dataclasses; must import nothing but ownership.py's views and states.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ownership import GroupView
from .states import WireGroupState, WireNodeState


@dataclass(frozen=True)
class LivePeer:
    """The peer while it is alive, as the groups may see it: its latest applied state."""

    name: str
    config_match: bool
    node_state: WireNodeState | None  # None: alive, but no frame applied since (re)start
    node_flags: int
    groups: tuple[GroupView, ...]  # () until a matching frame is applied
    echo_max: int | None  # our newest timestamp it has echoed (this incarnation)
    # Our groups its files do not have (it runs our previous configuration, layouts.py):
    # not claimed here before it has them too.
    absent: frozenset[int] = frozenset()

    def group(self, index: int) -> WireGroupState | None:
        """The peer's state for group `index`, or None when its group bytes are unknown."""
        if not 0 <= index < len(self.groups):
            return None  # unknown bytes, or a group not on the wire (a reload's leftover)
        return self.groups[index].state


@dataclass(frozen=True)
class PeerDied:
    """Every link silent beyond deadtime: the peer is assumed to hold nothing any more."""

    peer: str
    busy: tuple[int, ...]  # groups it showed claiming, starting, holding or stopping
    was_alive: bool
    # It said it was leaving (LEAVING/GONE), ran our configuration and showed no group busy:
    # it released everything and never starts anything again (no fence needed: fencing.py).
    left: bool = False


@dataclass(frozen=True)
class PeerReturned:
    """A peer declared dead is heard again."""

    peer: str


@dataclass(frozen=True)
class PeerHolds:
    """An applied frame shows the peer holding (or stopping) these groups."""

    peer: str
    indices: tuple[int, ...]


@dataclass(frozen=True)
class AnswerOwed:
    """Send a heartbeat now: the peer came alive, changed state, claims or died."""


Notice = PeerDied | PeerReturned | PeerHolds | AnswerOwed
