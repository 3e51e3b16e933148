"""The record of the peer that membership.py keeps (`PeerTracker`): the incarnation followed,
whether it is alive, what it last advertised and which of our timestamps it echoed.

Apart from membership.py so that status.py can read the record without the rules that write
it. Must not import I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .layouts import ConfigView
from .liveness import LinkTracker
from .ownership import GroupView
from .sequences import Newest
from .states import WireNodeState


@dataclass
class PeerTracker:
    """Everything known about the peer; written by Membership only, read by status.py."""

    name: str
    links: dict[str, LinkTracker]
    generation: int | None = None  # of the incarnation followed (None: none yet this run)
    alive: bool = False
    ever_alive: bool = False
    declared_dead: bool = False
    last_heard: float | None = None
    newest: Newest | None = None  # the newest frame applied from this incarnation
    last_applied_at: float | None = None
    node_state: WireNodeState | None = None
    node_flags: int = 0
    groups: tuple[GroupView, ...] = ()
    config_match: bool = True
    mismatch_logged: bool = False
    config: ConfigView = field(default_factory=ConfigView)  # its files (layouts.py)
    echo_max: int | None = None  # our latest timestamp the peer has echoed (this incarnation)
    echo_floor: int | None = None  # ... in this run, whatever the incarnation (never reset)

    def forget_state(self) -> None:
        """Dead or restarted: assume it holds nothing (no STONITH; heartbeat's assumption)."""
        self.node_state = None
        self.node_flags = 0
        self.groups = ()
        self.echo_max = None
