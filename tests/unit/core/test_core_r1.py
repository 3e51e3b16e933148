"""heartbeat 3.0.6's resource negotiation as the core speaks it (core/r1.py), step by step.

calc runs twinbeat, prime heartbeat (`HbPeer`); group A is prime's, B calc's; auto_failback
on. Each test plays prime's side as heartbeat does (reference §6.4-§6.7) and checks calc's
messages and group orders after each step.
"""

from __future__ import annotations

from dataclasses import replace

from core_helpers import PARAMS, A, B, group_state, logs, orders
from hb_helpers import HbPeer, complete, kinds, of_kind, talking, ticks

from twinbeat.control.client import format_status
from twinbeat.control.statusview import status_view
from twinbeat.core import (
    Node,
    ShutdownComplete,
    ShutdownRequested,
    StandbyRequested,
    StartGroup,
    StopGroup,
    TakeoverRequested,
    Tick,
)
from twinbeat.core.snapshot import Snapshot


def starts(acts: list[object]) -> list[str]:
    return [a.key for a in orders(acts) if isinstance(a, StartGroup)]  # type: ignore[arg-type]


def stops(acts: list[object]) -> list[str]:
    return [a.key for a in orders(acts) if isinstance(a, StopGroup)]  # type: ignore[arg-type]


def holders(snapshot: Snapshot) -> dict[str, str | None]:
    return {g.key: g.holder for g in snapshot.groups}


def resource(rsc: str, stable: str, info: str | None = None) -> tuple[tuple[str, str], ...]:
    fields = [("t", "resource"), ("rsc_hold", rsc), ("rtype", "full"), ("isstable", stable)]
    return tuple(fields + ([("info", info)] if info else []))


def stable_pair(t: float = 1.0) -> tuple[Node, HbPeer, float]:
    """calc started beside a stable prime holding its own group A: calc takes B."""
    n, prime = Node(PARAMS, 0.0), HbPeer()
    acts = talking(n, prime, t)
    assert "starting" in kinds(acts)
    acts = prime.send(n, t + 0.1, *resource("local", "1"))
    assert starts(acts) == [B]
    acts = complete(n, acts, t + 0.2)
    said = of_kind(acts, "resource")
    assert said[-1]["rsc_hold"] == "local" and said[-1]["isstable"] == "1"
    assert said[-1].get("info") == "req_our_resources()"
    assert holders(n.snapshot()) == {A: "prime", B: "calc"}
    (peer,) = n.snapshot().peers
    assert peer.heartbeat is not None and peer.heartbeat.mode == "negotiating"
    text = format_status(status_view(n.snapshot()))
    assert "answered in its protocol; groups move by its negotiation" in text
    return n, prime, t + 0.3


def test_start_up_beside_a_stable_peer_takes_only_its_own_group() -> None:
    n, prime, t = stable_pair()
    acts = ticks(n, prime, t, t + 60)
    assert not orders(acts)  # settled: nothing moves


def test_the_peer_holding_everything_fails_calcs_group_back_to_it() -> None:
    """prime took B over while calc was away; calc starts: it takes nothing ("(none)"),
    says it is stable, and prime's auto failback hands B back by a standby."""
    n, prime = Node(PARAMS, 0.0), HbPeer()
    talking(n, prime)
    acts = prime.send(n, 1.1, *resource("all", "1"))
    assert not starts(acts) and "Local Resource acquisition completed. (none)" in logs(acts)
    assert of_kind(acts, "resource")[-1]["rsc_hold"] == "none"
    acts = prime.send(n, 1.2, ("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "me"))
    (other,) = of_kind(acts, "ask_resources")
    assert (other["rsc_hold"], other["info"]) == ("foreign", "other")
    prime.send(n, 1.3, *resource("local", "0", "standby"))  # prime stops B
    acts = prime.send(n, 1.4, ("t", "ask_resources"), ("rsc_hold", "foreign"), ("info", "done"))
    assert starts(acts) == [B]
    acts = complete(n, acts, 1.5)
    assert [m["info"] for m in of_kind(acts, "ask_resources")] == ["done"]
    assert of_kind(acts, "resource")[-1]["rsc_hold"] == "local"  # heartbeat's bits
    assert "Standby resource acquisition done [foreign]." in logs(acts)
    assert holders(n.snapshot()) == {A: "prime", B: "calc"}


def test_both_starting_each_takes_its_own_after_rqstdelay() -> None:
    n, prime = Node(PARAMS, 0.0), HbPeer()
    talking(n, prime)
    acts = prime.send(n, 1.1, ("t", "starting"))
    assert of_kind(acts, "resource")[-1]["isstable"] == "0"
    acts = prime.send(n, 1.2, *resource("none", "0"))
    assert not starts(acts)
    acts = ticks(n, prime, 1.5, 10.0, step=1.0)
    assert not starts(acts)
    acts = ticks(n, prime, 10.0, 12.5, step=1.0)  # RQSTDELAY over at 11.2
    assert starts(acts) == [B] and "local resource transition completed." in logs(acts)


def test_standby_from_calc_and_hb_standby_from_prime() -> None:
    n, prime, t = stable_pair()
    acts = n.feed(StandbyRequested("all"), t)
    (me,) = of_kind(acts, "ask_resources")
    assert (me["rsc_hold"], me["info"]) == ("all", "me") and not stops(acts)
    acts = prime.send(n, t + 0.1, ("t", "ask_resources"), ("rsc_hold", "all"), ("info", "other"))
    assert stops(acts) == [B]
    assert of_kind(acts, "resource")[-1] == of_kind(acts, "resource")[-1] | {
        "rsc_hold": "none", "isstable": "0", "info": "standby"}
    acts = complete(n, acts, t + 0.2)
    assert [m["info"] for m in of_kind(acts, "ask_resources")] == ["done"]
    acts = prime.send(n, t + 0.3, ("t", "ask_resources"), ("rsc_hold", "all"), ("info", "done"))
    assert "Other node completed standby takeover of all resources." in logs(acts)
    prime.send(n, t + 0.4, *resource("all", "1"))
    assert holders(n.snapshot()) == {A: "prime", B: "prime"}

    # hb_standby on prime: calc takes everything
    acts = prime.send(n, t + 1, ("t", "ask_resources"), ("rsc_hold", "all"), ("info", "me"))
    assert of_kind(acts, "ask_resources")[-1]["info"] == "other"
    prime.send(n, t + 1.1, *resource("none", "0", "standby"))
    acts = prime.send(n, t + 1.2, ("t", "ask_resources"), ("rsc_hold", "all"), ("info", "done"))
    assert sorted(starts(acts)) == sorted([A, B])
    acts = complete(n, acts, t + 1.3)
    assert of_kind(acts, "resource")[-1]["rsc_hold"] == "all"
    assert holders(n.snapshot()) == {A: "calc", B: "calc"}


def test_a_standby_is_refused_or_cancelled_while_things_move() -> None:
    n, prime = Node(PARAMS, 0.0), HbPeer()
    talking(n, prime)  # not stable yet
    acts = n.feed(StandbyRequested("all"), 1.1)
    assert not of_kind(acts, "ask_resources")
    assert any("standby [all] not started: local resources in flux" in m for m in logs(acts))
    assert n.handoff_plan(StandbyRequested("all")).refusal == "local resources in flux"
    n, prime, t = stable_pair()
    n.feed(StandbyRequested("local"), t)
    acts = ticks(n, prime, t + 0.5, t + 12)  # prime never answers
    assert "No reply to standby request.  Standby request cancelled." in logs(acts)
    assert group_state(n, B) == "held"
    assert n.handoff_plan(StandbyRequested("local")).refusal is None  # may ask again


def test_takeover_asks_prime_and_prime_hb_takeover_makes_calc_stand_by() -> None:
    n, prime, t = stable_pair()
    acts = n.feed(TakeoverRequested("foreign"), t)
    (ask,) = of_kind(acts, "hb_takeover")
    assert ask["rsc_hold"] == "foreign"
    plan = n.handoff_plan(TakeoverRequested("foreign"))
    assert (plan.keys, plan.source, plan.target) == ((A,), "prime", "calc")
    # prime's hb_takeover local: prime wants its own groups: calc stands by for foreign
    acts = prime.send(n, t + 1, ("t", "hb_takeover"), ("rsc_hold", "local"))
    (me,) = of_kind(acts, "ask_resources")
    assert (me["rsc_hold"], me["info"]) == ("foreign", "me")


def test_prime_shutting_down_hands_everything_over_at_once() -> None:
    n, prime, t = stable_pair()
    prime.send(n, t, *resource("none", "0", "shutdown"))
    acts = prime.send(n, t + 0.5, ("t", "shutdone"), ("st", "dead"))
    assert starts(acts) == [A]  # no deadtime wait
    acts = complete(n, acts, t + 0.6)
    assert of_kind(acts, "resource")[-1]["rsc_hold"] == "all"
    assert "mach_down takeover complete for node prime." in logs(acts)


def test_calc_shutting_down_says_so_then_shutdone() -> None:
    n, _prime, t = stable_pair()
    acts = n.feed(ShutdownRequested(), t)
    said = kinds(acts)
    assert said[0] == "resource" and of_kind(acts, "resource")[0]["info"] == "shutdown"
    assert of_kind(acts, "resource")[0]["rsc_hold"] == "none"
    assert stops(acts) == [B] and "shutdone" not in said
    acts = complete(n, acts, t + 0.1)
    assert kinds(acts)[-1] == "shutdone" and of_kind(acts, "shutdone")[0]["st"] == "dead"
    last = [i for i, a in enumerate(acts) if isinstance(a, ShutdownComplete)]
    shutdone = [i for i, a in enumerate(acts) if type(a).__name__ == "SendForeign"]
    assert last and shutdone[-1] < last[0]


def test_prime_dies_calc_takes_over_then_prime_restarts_and_gets_its_group_back() -> None:
    n, prime, t = stable_pair()
    acts: list[object] = []
    now = t
    while not starts(acts) and now < t + 30:
        now = n.next_deadline() or now + 1
        acts += n.feed(Tick(), now)
    assert starts(acts) == [A] and "node prime: is dead" in logs(acts)
    complete(n, acts, now)  # type: ignore[arg-type]
    prime = HbPeer(generation=prime.generation + 1)  # restarted: a new generation
    acts = prime.status(n, now + 1) + prime.send(n, now + 1.1, ("t", "starting"))
    assert "Heartbeat restart on node prime" in logs(acts)
    assert of_kind(acts, "resource")[-1]["rsc_hold"] == "all"
    acts = prime.send(n, now + 1.2, *resource("none", "1"))  # "(none)": calc holds A
    (me,) = of_kind(acts, "ask_resources")  # calc's auto failback
    assert (me["rsc_hold"], me["info"]) == ("foreign", "me")
    acts = prime.send(n, now + 1.3, ("t", "ask_resources"), ("rsc_hold", "foreign"),
                      ("info", "other"))
    assert stops(acts) == [A]


def test_auto_failback_off_keeps_what_calc_took_over() -> None:
    n = Node(replace(PARAMS, auto_failback=False), 0.0)
    prime = HbPeer()
    talking(n, prime)
    prime.send(n, 1.1, ("t", "shutdone"), ("st", "dead"))
    prime = HbPeer(generation=prime.generation + 1)
    acts = prime.status(n, 5) + prime.send(n, 5.1, ("t", "starting"))
    acts += prime.send(n, 5.2, *resource("none", "1"))
    assert not of_kind(acts, "ask_resources")


def test_heal_after_partition_keeps_what_calc_holds() -> None:
    n, prime, t = stable_pair()
    acts: list[object] = []
    now = t
    while not starts(acts) and now < t + 30:
        now = n.next_deadline() or now + 1
        acts += n.feed(Tick(), now)
    complete(n, acts, now)  # type: ignore[arg-type]
    acts = prime.status(n, now + 5)  # the same generation, later sequence numbers
    assert "Cluster node prime returning after partition." in logs(acts)
    assert not stops(acts)  # prime gives everything up and restarts (heartbeat's rule)
    acts = prime.send(n, now + 6, ("t", "shutdone"), ("st", "dead"))
    assert not starts(acts)  # calc holds both already
