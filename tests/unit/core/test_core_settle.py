"""`Node._settle` runs to a checked fixed point (settling.py `settle_bound`)."""

from __future__ import annotations

import itertools

import pytest
from core_helpers import (
    HELD,
    NONE,
    PARAMS,
    YIELD,
    B,
    Peer,
    group_state,
    joined,
    last_hb,
    orders,
    ts_of,
)

from twinbeat.core import (
    CoreMisuse,
    GroupStarted,
    LeftoversFound,
    Node,
    Started,
    StartGroup,
    Tick,
)
from twinbeat.core.groups import Groups
from twinbeat.core.settling import settle_bound
from twinbeat.core.states import Phase


def test_the_bound_counts_phases_and_three_changes_per_group() -> None:
    assert settle_bound(0) == len(Phase)
    assert settle_bound(2) == len(Phase) + 6


def test_a_rule_that_never_settles_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step that flips the advertised state on every pass must raise, not stop after N."""
    node, _peer, _ = joined()
    flips = itertools.count()
    monkeypatch.setattr(Groups, "advertised", lambda self: bytes([next(flips) % 2, 0]))
    with pytest.raises(CoreMisuse, match=f"did not converge within {settle_bound(2)} passes"):
        node.feed(Tick(), 1.5)


def test_settling_that_needs_many_passes_is_not_cut_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to the bound, settling goes on until nothing changes (the old loop stopped at 4)."""
    node, _peer, _ = joined()
    changes = iter(range(settle_bound(2) - 2))
    real = Groups.advertised

    def advertised(self: Groups) -> bytes:
        n = next(changes, None)
        return real(self) if n is None else bytes([n, 0])

    monkeypatch.setattr(Groups, "advertised", advertised)
    node.feed(Tick(), 1.5)  # converges on the last allowed pass
    assert group_state(node, B) == "claiming"


def test_settling_normally_needs_one_or_two_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    passes: list[int] = []
    real = Node._settle_pass

    def counting(self: Node, *args: object) -> None:
        passes.append(1)
        real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Node, "_settle_pass", counting)
    node = Node(PARAMS, 0.0)
    node.feed(Started(), 0.0)
    hb = last_hb(node.feed(LeftoversFound(()), 0.0))
    passes.clear()
    peer = Peer()
    node.feed(peer.frame(1.0, echo=hb.timestamp_ms), 1.0)  # comms up, claim B: then unchanged
    assert (len(passes), group_state(node, B)) == (2, "claiming")
    passes.clear()
    # An echo from before the claim, the rest as before: nothing the rules read changed,
    # so no pass at all (the steady state's fast path).
    node.feed(peer.frame(2.0, echo=hb.timestamp_ms), 2.0)
    assert (len(passes), group_state(node, B)) == (0, "claiming")


def test_a_steady_state_frame_skips_the_passes_and_a_change_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passes: list[int] = []
    real = Node._settle_pass

    def counting(self: Node, *args: object) -> None:
        passes.append(1)
        real(self, *args)  # type: ignore[arg-type]

    node, peer, echo = joined(peer_groups=bytes([HELD, NONE]))
    monkeypatch.setattr(Node, "_settle_pass", counting)
    t = 1.0
    for _ in range(5):  # prime holds A, calc claims B: settled once B is started
        t += 0.5
        acts = node.feed(peer.frame(t, groups=bytes([HELD, NONE]), echo=echo), t)
        echo = ts_of(acts, echo)
        for a in orders(acts):
            if isinstance(a, StartGroup):
                node.feed(GroupStarted(a.key), t)
    assert group_state(node, B) == "held"
    passes.clear()
    for _ in range(3):  # the same state over and over: its echo moves, nothing else
        t += 0.5
        echo = ts_of(node.feed(peer.frame(t, groups=bytes([HELD, NONE]), echo=echo), t), echo)
    assert passes == []
    t += 0.5  # prime stands A by: the rules must run
    node.feed(peer.frame(t, groups=bytes([HELD | YIELD, NONE]), echo=echo), t)
    assert passes
