"""heartbeat's progress lines about takeovers: "mach_down takeover complete for node X." and
"Initial resource acquisition complete".

Owns: `Reports`: the groups still pending after the peer died (from `PeerDied` until each is
held here, failed here, or held by the peer again) and whether the initial acquisition line
was logged. Each line is logged once, when its condition first holds while settling. Reads
groups.py's records and asks it who should hold a group; writes nothing of theirs. Must not
import anything doing I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from .events import Action, Log
from .groups import Groups
from .records import Situation
from .states import BUSY, GroupLocal

# Local states after which a group counts as dealt with for the mach_down report.
TAKEN_OVER = (GroupLocal.HELD, GroupLocal.FAILED, GroupLocal.CRITICAL, GroupLocal.GIVEN_UP)
UNSETTLED = (GroupLocal.CLAIMING, GroupLocal.STARTING, GroupLocal.STOPPING)


class Reports:
    """See the module docstring."""

    def __init__(self) -> None:
        # (peer, the keys of the groups not yet dealt with: keys, as a reload may reorder them)
        self._mach_down: tuple[str, set[str]] | None = None
        self._initial_logged = False

    def peer_died(self, peer: str, busy: Sequence[str], was_alive: bool) -> None:
        """A peer that was alive died busy with `busy`: report once they are taken over."""
        if was_alive:
            self._mach_down = (peer, set(busy))

    def peer_returned(self, peer: str) -> None:
        if self._mach_down is not None and self._mach_down[0] == peer:
            self._mach_down = None

    def step(self, groups: Groups, s: Situation, out: list[Action]) -> None:
        """One settling pass (phase ACTIVE)."""
        if self._mach_down is not None:
            peer, pending = self._mach_down
            configured = {g.spec.key: g for g in groups.records}
            for key in sorted(pending):
                g = configured.get(key)
                if g is None:  # a reload removed it: nothing to take over
                    pending.discard(key)
                    continue
                theirs = s.peer.group(g.index) if s.peer is not None else None
                if g.state in TAKEN_OVER or (g.state is GroupLocal.NONE and theirs in BUSY):
                    pending.discard(key)
            if not pending:
                self._mach_down = None
                out.append(Log("info", f"mach_down takeover complete for node {peer}."))
        if not self._initial_logged:
            me = groups.node
            if not any(g.state in UNSETTLED for g in groups.records) and not any(
                g.state is GroupLocal.NONE and groups.desired(g, s) == me for g in groups.records
            ):
                self._initial_logged = True
                out.append(Log("info", "Initial resource acquisition complete"))
