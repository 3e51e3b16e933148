"""A reload (`Reconfigured`): whether the running node can take new `Params`, and its links.

Owns `reconfigure_refusal` (pure: asking changes nothing, like handoff.py's plans) and
`relink`, the membership side of a reload. node.py applies a reload in one step, each part to
its owner: the links here, the groups in regroup.py, timers and thresholds in heartbeat.py,
monitoring.py and fencing.py (which read `Params` afresh), ping nodes in node.py.

What a reload may not change, because other state hangs on it, is refused (the daemon says
"needs a restart" before it gets here: config/changes.py): this node, its peer, and the run's
own values (generation, timestamp origin, first sequence). What it may not do *now*:

- while starting up, before the groups left running here are known (`LeftoversFound`
  names the groups of the configuration it was probed with), or shutting down (the groups are
  being given up anyway);
- remove the links that carry the peer: if the peer is alive and every link still up would
  be gone, the reload would declare it dead and take its groups over;
- drop fencing while a STONITH attempt is under way: its result is still to come.

`relink`: links added get a tracker that has `deadtime` to be heard (the peer reloads too)
before it is reported dead; links removed are forgotten with their counters. When the
fingerprint changes (haresources or the nodes), the old configuration's group order is kept
(layouts.py: the peer's frames are read in it until the peer reloads too, and ours go out in
it), and what the peer advertised is forgotten until its next frame: it was read in the old
layout. Meanwhile nothing is acquired on the peer's account (a mismatched peer blocks claims).
Must import nothing doing I/O, nor node.py.
"""

from __future__ import annotations

from .fencing import Fencing
from .liveness import LinkTracker, RejectCounts
from .membership import Membership
from .params import Params
from .states import FENCE_OUTSTANDING

# Params a reload must leave as they are (the run's own, or what state hangs on).
FIXED = ("node", "peer", "generation", "timestamp_origin", "first_sequence")


def reconfigure_refusal(old: Params, new: Params, *, starting: bool, leaving: bool,
                        membership: Membership, fencing: Fencing) -> str | None:
    """Why `new` cannot replace `old` now, or None (see the module docstring)."""
    for name in FIXED:
        if getattr(old, name) != getattr(new, name):
            return f"{name} cannot change without a restart"
    try:
        new.validate()
    except ValueError as exc:
        return str(exc)
    if starting or leaving:
        return ("starting up: reload once the groups found running here are known" if starting
                else "shutting down: the groups are being given up")
    return _now_refusal(new, membership, fencing)


def _now_refusal(new: Params, membership: Membership, fencing: Fencing) -> str | None:
    """What the running state forbids: losing the peer's links, or a fence's result."""
    peer = membership.peer
    if peer is not None and peer.alive:
        up = [ln for ln, lt in peer.links.items() if lt.up]
        if up and not set(up) & set(new.links):
            return (f"node {peer.name} is heard only on {', '.join(up)}, which the new "
                    "configuration removes: it would be declared dead")
    if fencing.enabled and not new.fencing and fencing.state in FENCE_OUTSTANDING:
        return f"a STONITH of {fencing.peer} is under way: reload once it is done"
    return None


def relink(membership: Membership, params: Params, now: float) -> None:
    """The membership side of a reload (see the module docstring)."""
    old = membership.params
    membership.params = params
    membership.unattributed = {
        ln: membership.unattributed.get(ln) or RejectCounts() for ln in params.links
    }
    peer = membership.peer
    if peer is None:
        return
    peer.links = {
        ln: peer.links.get(ln) or LinkTracker(link=ln, expect_by=now + params.deadtime)
        for ln in params.links
    }
    membership.layouts.remember(old.fingerprint, tuple(g.key for g in old.groups),
                                params.fingerprint)
    if old.fingerprint != params.fingerprint or len(old.groups) != len(params.groups):
        peer.groups = ()
        peer.config_match = False
