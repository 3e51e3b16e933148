"""The claim rule: when a group this node claimed may be started (the safety argument).

Owns `claim_acked`, the one predicate between a claim (advertised STARTING, nothing started)
and `StartGroup`; groups.py applies it (and the simulator's mutation check replaces it there,
tests/sim). Why it keeps two nodes from both starting a group while a link works:
states.py's docstring and docs/core.md. Pure; must import nothing holding state or doing I/O.
"""

from __future__ import annotations

from .membership import LivePeer
from .states import BUSY, DEPARTING, ts_after


def claim_acked(peer: LivePeer | None, index: int, claim_prev_ts: int | None) -> bool:
    """The claim rule: the peer has seen our claim and shows itself idle for the group.

    With the peer dead there is nobody to ask (the link quorum decided). A leaving peer never
    starts anything. Otherwise its echo must be newer than our last pre-claim heartbeat, so
    that the frame showing it idle was sent after it had our claim.
    """
    if peer is None:
        return True
    state = peer.group(index)
    if state is None or state in BUSY:
        return False
    if peer.node_state in DEPARTING:
        return True
    if peer.echo_max is None:
        return False
    return claim_prev_ts is None or ts_after(peer.echo_max, claim_prev_ts)
