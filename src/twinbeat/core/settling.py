"""How many passes node.py's settling may take before a loop is a bug (`settle_bound`), and
what its rules read (`settle_key`): a feed that changes none of it skips the passes.

Pure arithmetic over the transition rules (states.py); kept apart so that node.py stays the
thin facade it is meant to be. Must not import anything doing I/O.
"""

from __future__ import annotations

from .groups import Groups
from .heartbeat import Advertised
from .notices import LivePeer
from .states import GroupLocal, Phase

# What the settling rules read (`settle_key`): the advertised state first.
SettleKey = tuple[Advertised, Phase, bool, bool, object]

# A group's advertised byte changes at most this often in one settle (see `settle_bound`).
GROUP_CHANGES_PER_SETTLE = 3


def settle_bound(n_groups: int) -> int:
    """How many passes `_settle` may take; one more means a transition rule loops (a bug).

    Every pass but the last changes the phase or the advertised state. While settling, time
    and the peer's state are fixed, so only the internal rules fire: the phase only moves
    forward (at most len(Phase) - 1 moves), and each group's advertised byte changes at most
    GROUP_CHANGES_PER_SETTLE times — YIELD for a peer's takeover request (once: it is only
    set while clear), CLAIM, then WITHDRAW or RELEASE (ACKED keeps the wire value STARTING;
    STARTING, STOPPING, RESTARTING and GIVING_UP are left only by an agent's result, FAILED
    and GIVEN_UP by a timer or an event, never while settling; a withdrawn
    claim is not claimed again under the same views, since what makes it withdraw — another
    desired holder, a busy peer, the ping guard, a config mismatch — also forbids the claim).
    Hence at most len(Phase) - 1 + 3·groups changing passes plus the one that sees no change.
    """
    return len(Phase) + GROUP_CHANGES_PER_SETTLE * n_groups


def settle_key(advertised: Advertised, phase: Phase, ping_ok: bool, takeover_ok: bool, *,
               groups: Groups, peer: LivePeer | None) -> SettleKey:
    """What the settling rules read, but time (only stamped on changes) and what only
    events change (those set node.py's `_dirty`). The peer's echo counts only while a group
    waits for the peer to ack a claim: `claim_acked` is the one rule that reads it."""
    claiming = any(g.state is GroupLocal.CLAIMING for g in groups.records)
    seen = None if peer is None else (peer.config_match, peer.node_state, peer.node_flags,
                                      peer.groups, peer.echo_max if claiming else None)
    return advertised, phase, ping_ok, takeover_ok, seen
