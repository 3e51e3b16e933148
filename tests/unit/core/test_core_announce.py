"""Core announces (announce.py): the holder re-sends its gratuitous ARPs whenever the peer
starts, holds or stops one of its groups, and again once the peer has let go of it, so that
the LAN's ARP caches follow the holder back after a false takeover or a split brain (issue
#11, items 12-13). Exact steps: the local node is calc, prime the peer; A's primary is prime,
B's is calc."""

from __future__ import annotations

from core_helpers import (
    CRITICAL,
    FAILED,
    HELD,
    JOINING,
    NONE,
    STARTING,
    STOPPING,
    A,
    B,
    Peer,
    holding,
    logs,
    orders,
    params,
    tick_until,
    ts_of,
)

from twinbeat.core import (
    Announce,
    GroupStarted,
    GroupStopped,
    LeftoversFound,
    Node,
    Started,
    StartGroup,
    StopGroup,
)


def test_a_one_sided_false_takeover_is_re_announced_at_every_step() -> None:
    """prime declared calc dead, started B and sent its GARP, then heard calc and gave B back.
    Its frames say STARTING then STOPPING: it never showed B held. calc never saw a
    partition; it re-announces B at each step, the last one after prime's address is gone."""
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    acts = node.feed(peer.frame(t + 1, groups=bytes([NONE, NONE])), t + 1)
    assert orders(acts) == []
    acts = node.feed(peer.frame(t + 2, groups=bytes([NONE, STARTING])), t + 2)
    assert orders(acts) == [Announce(B)]
    assert logs(acts) == [f"Re-announcing resource group {B}: node prime is starting it"]
    acts = node.feed(peer.frame(t + 3, groups=bytes([NONE, STARTING])), t + 3)
    assert orders(acts) == []  # nothing new: no second announce
    acts = node.feed(peer.frame(t + 4, groups=bytes([NONE, STOPPING])), t + 4)
    assert orders(acts) == [Announce(B)]
    assert logs(acts) == [f"Re-announcing resource group {B}: node prime is stopping it"]
    acts = node.feed(peer.frame(t + 5, groups=bytes([NONE, NONE])), t + 5)
    assert orders(acts) == [Announce(B)]
    assert logs(acts) == [f"Re-announcing resource group {B}: node prime released it"]
    acts = node.feed(peer.frame(t + 6, groups=bytes([NONE, NONE])), t + 6)
    assert orders(acts) == []


def test_the_split_brain_keeper_announces_as_soon_as_it_has_won() -> None:
    """Both held both groups (both links were cut). calc keeps B (its primary) and announces
    it in the same step as it gives A up; again when prime stops B, and once it has."""
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    acts = node.feed(peer.frame(t + 1, groups=bytes([HELD, HELD])), t + 1)
    assert orders(acts) == [StopGroup(A), Announce(B)]  # prime is A's primary: calc gives A up
    assert logs(acts)[-4:] == [
        f"Resource group {A} is held by prime too (split brain): prime keeps it",
        f"releasing resource group: {A}",
        f"Resource group {B} is held by prime too (split brain): calc keeps it",
        f"Re-announcing resource group {B}: node prime holds it too",
    ]
    acts = node.feed(peer.frame(t + 2, groups=bytes([HELD, STOPPING])), t + 2)
    assert orders(acts) == [Announce(B)]
    acts = node.feed(peer.frame(t + 3, groups=bytes([HELD, NONE])), t + 3)
    assert orders(acts) == [Announce(B)]
    assert logs(acts) == [f"Split brain on {B} healed: re-announcing"]
    acts = node.feed(GroupStopped(A), t + 4)
    assert orders(acts) == []  # the loser never announces


def test_the_loser_of_a_split_brain_never_announces() -> None:
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    acts = node.feed(peer.frame(t + 1, groups=bytes([HELD, NONE])), t + 1)
    assert orders(acts) == [StopGroup(A)]
    acts = node.feed(peer.frame(t + 2, groups=bytes([STOPPING, NONE])), t + 2)
    assert orders(acts) == []  # prime keeps A: its states are no business of calc's
    node.feed(GroupStopped(A), t + 3)
    acts = node.feed(peer.frame(t + 4, groups=bytes([HELD, NONE])), t + 4)
    assert orders(acts) == []


def test_a_start_that_completes_while_the_peer_holds_is_announced() -> None:
    """Both nodes came up alone and started both groups (a split brain from boot). prime's
    frames arrive while calc's starts are under way. When calc's start of B (its primary)
    completes, calc holds B and prime shows it held: calc announces at once, since prime's
    GARP may have come after calc's own. A goes to prime: calc releases it, no announce."""
    node = Node(params(auto_failback=False), 0.0)
    node.feed(Started(), 0.0)
    node.feed(LeftoversFound(()), 0.0)
    t = 20.05  # initdead over: prime is dead, calc starts both
    acts = tick_until(node, t)
    assert orders(acts) == [StartGroup(A), StartGroup(B)]
    peer = Peer()
    peer.heard = ts_of(acts, peer.heard)  # prime comes up and hears calc's heartbeat
    acts = node.feed(peer.frame(t + 1, groups=bytes([HELD, HELD])), t + 1)
    assert orders(acts) == []  # nothing held here yet
    acts = node.feed(GroupStarted(B), t + 2)
    assert orders(acts) == [Announce(B)]
    acts = node.feed(GroupStarted(A), t + 3)
    assert orders(acts) == [StopGroup(A)]


def test_a_peer_that_dies_busy_and_returns_with_leftovers_is_announced_around() -> None:
    p = params(auto_failback=False)
    peer = Peer()
    node, t = holding(p, peer=peer)
    node.feed(peer.frame(t + 1, groups=bytes([NONE, NONE])), t + 1)
    acts = node.feed(peer.frame(t + 2, groups=bytes([NONE, STARTING])), t + 2)
    assert orders(acts) == [Announce(B)]
    acts = tick_until(node, t + 2 + p.deadtime + 1)  # it died while starting B
    peer.heard = ts_of(acts, peer.heard)  # what it hears of calc once it is back
    assert "node prime: is dead" in logs(acts)
    assert orders(acts) == [Announce(B)]
    assert f"Re-announcing resource group {B}: node prime is dead" in logs(acts)
    peer.generation, peer.sequence = peer.generation + 1, 0  # it restarts with leftovers
    t2 = t + 2 + p.deadtime + 5
    acts = node.feed(peer.frame(t2, state=JOINING, groups=bytes([NONE, STOPPING])), t2)
    assert orders(acts) == [Announce(A), Announce(B)]  # A: it may have done anything unseen
    assert logs(acts)[-2:] == [
        f"Re-announcing resource group {A}: node prime is back (what it did unseen is unknown)",
        f"Re-announcing resource group {B}: node prime is stopping it",
    ]
    acts = node.feed(peer.frame(t2 + 1, state=JOINING, groups=bytes([NONE, NONE])), t2 + 1)
    assert orders(acts) == [Announce(B)]


def test_failed_starts_and_stops_of_the_peer_are_announced_around() -> None:
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    node.feed(peer.frame(t + 1, groups=bytes([NONE, NONE])), t + 1)
    node.feed(peer.frame(t + 2, groups=bytes([NONE, STARTING])), t + 2)
    acts = node.feed(peer.frame(t + 3, groups=bytes([NONE, FAILED])), t + 3)
    assert orders(acts) == [Announce(B)]
    assert logs(acts) == [f"Re-announcing resource group {B}: node prime failed to start it"]
    acts = node.feed(peer.frame(t + 4, groups=bytes([NONE, NONE])), t + 4)
    assert orders(acts) == []  # idle to idle: nothing to correct
    acts = node.feed(peer.frame(t + 5, groups=bytes([NONE, CRITICAL])), t + 5)
    assert orders(acts) == [Announce(B)]
    assert logs(acts) == [f"Re-announcing resource group {B}: node prime failed to stop it"]


def test_nothing_is_announced_while_the_peer_stays_idle() -> None:
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    for i in range(1, 5):
        acts = node.feed(peer.frame(t + i, groups=bytes([NONE, NONE])), t + i)
        assert not any(isinstance(a, Announce) for a in acts)
    # NONE -> FAILED is not idle: the peer started the group unseen, and a start sends
    # gratuitous ARPs before it fails (test_a_start_the_peer_made_unseen_and_failed_...).


def test_a_mismatched_peer_is_not_interpreted_so_not_announced_around() -> None:
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    acts = node.feed(peer.frame(t + 1, fingerprint=0xBAD, groups=bytes([HELD, HELD])), t + 1)
    assert orders(acts) == []


def test_a_split_brain_ended_by_the_peer_dying_is_not_called_healed() -> None:
    p = params(auto_failback=False)
    peer = Peer()
    node, t = holding(p, peer=peer)
    node.feed(peer.frame(t + 1, groups=bytes([NONE, HELD])), t + 1)
    acts = tick_until(node, t + 1 + p.deadtime + 1)
    assert orders(acts) == [Announce(B)]
    assert f"Re-announcing resource group {B}: node prime is dead" in logs(acts)
    assert not any("healed" in m for m in logs(acts))


def test_a_peer_first_heard_after_initdead_is_announced_around() -> None:
    """calc took both groups at initdead without ever hearing prime. prime, partitioned from
    its own boot, may have started one of them unseen (its start failed and was rolled back,
    but its gratuitous ARP went out: simulator seed 6264). When prime is first heard, calc
    re-announces the group prime's first frames show it failed to start."""
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    acts = node.feed(peer.frame(t + 1, groups=bytes([NONE, FAILED])), t + 1)
    assert orders(acts) == [Announce(B)]
    assert logs(acts)[-1] == f"Re-announcing resource group {B}: node prime failed to start it"


def test_a_start_the_peer_made_unseen_and_failed_is_announced_around() -> None:
    """Both links were cut; prime declared calc dead, started B (its gratuitous ARP went out)
    and failed; the links came back before calc declared prime dead. calc saw B go from
    NONE to FAILED without STARTING in between (simulator seed 2797): it re-announces B."""
    peer = Peer()
    node, t = holding(params(auto_failback=False), peer=peer)
    node.feed(peer.frame(t + 1, groups=bytes([NONE, NONE])), t + 1)
    acts = node.feed(peer.frame(t + 2, groups=bytes([NONE, FAILED])), t + 2)
    assert orders(acts) == [Announce(B)]
    assert logs(acts) == [f"Re-announcing resource group {B}: node prime failed to start it"]
    acts = node.feed(peer.frame(t + 3, groups=bytes([NONE, NONE])), t + 3)
    assert orders(acts) == []  # its backoff ended: idle again, nothing to correct
