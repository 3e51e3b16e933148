"""heartbeat 3.0.6's message layer as the core speaks it (core/hbsession.py), step by step.

calc runs twinbeat, prime heartbeat (`HbPeer`). What calc sends: control fields in
heartbeat's order, a status every keepalive, answers to reqnodes and retransmission
requests, ACKs, requests for what it missed; and when it speaks at all.
"""

from __future__ import annotations

from dataclasses import replace

from core_helpers import ETH, PARAMS, TTY, A, B
from hb_helpers import HbPeer, kinds, of_kind, sent, started, talking, ticks

from twinbeat.core import Node, SendForeign, StartGroup, Tick

OFFSET = 1_780_000_000.0  # wall clock - core time


def node(**kw: object) -> Node:
    return Node(replace(PARAMS, wall_clock_offset=OFFSET, **kw), 0.0)  # type: ignore[arg-type]


def test_silent_until_prime_speaks_then_a_status_every_keepalive_in_heartbeats_form() -> None:
    n, prime = node(), HbPeer()
    acts = started(n, 0.0)
    for t in (2.0, 4.0, 6.0):
        acts += n.feed(Tick(), t)
    assert not sent(acts)  # a twinbeat node never speaks first (two twinbeats never do)
    acts = prime.status(n, 7.0)
    messages = [a.fields for a in acts if isinstance(a, SendForeign)]
    assert messages[0] == (
        ("t", "status"), ("st", "up"), ("dt", "2710"), ("protocol", "1"), ("src", "calc"),
        ("seq", "1"), ("hg", "7"), ("ts", f"{int(7.0 + OFFSET):x}"), ("ld", "n/a"),
        ("ttl", "3"))
    assert [m["t"] for m in sent(acts)] == ["status", "starting"]  # comms up: starting
    assert [m["seq"] for m in sent(acts)] == ["1", "2"]
    later = ticks(n, prime, 9.0, 30.0)
    statuses = of_kind(later, "status")
    assert len(statuses) >= 9 and {m["st"] for m in statuses} == {"active"}
    seqs = [int(m["seq"], 16) for m in sent(later) if "seq" in m]  # NS_ackmsg has none
    assert seqs == list(range(3, 3 + len(seqs)))


def test_forced_protocols() -> None:
    forced = node(peer_protocol="heartbeat")
    acts = started(forced, 0.0) + forced.feed(Tick(), 2.0)
    assert of_kind(acts, "status")  # heartbeat: talks from the start
    # twinbeat: heartbeat messages are ignored (after a migration: old traffic replayed
    # cannot move anything). Beside a real heartbeat node that is a split brain: only an
    # admin who knows no heartbeat runs any more sets it (docs/migrating.md).
    ignoring, prime = node(peer_protocol="twinbeat"), HbPeer()
    acts = started(ignoring, 0.0) + ticks(ignoring, prime, 1.0, 60.0)
    assert not sent(acts)
    (peer,) = ignoring.snapshot().peers
    assert not peer.alive and peer.protocol == "twinbeat"
    assert {a.key for a in acts if isinstance(a, StartGroup)} == {A, B}


def test_reqnodes_is_answered_with_both_nodes() -> None:
    n, prime = node(), HbPeer()
    talking(n, prime)
    acts = prime.send(n, 2.0, ("t", "reqnodes"), ("dest", "calc"))
    (rep,) = of_kind(acts, "repnodes")
    assert (rep["dest"], rep["nodelist"], rep["delnodelist"]) == ("prime", "calc prime ", " ")
    assert not of_kind(prime.send(n, 2.5, ("t", "reqnodes"), ("dest", "other")), "repnodes")


def test_retransmission_from_history_and_naks() -> None:
    n, prime = node(), HbPeer()
    acts = talking(n, prime)
    first = next(a.fields for a in acts if isinstance(a, SendForeign))
    assert dict(first)["seq"] == "1"
    ask = prime.message(("t", "NS_rexmit"), ("dest", "calc"), ("firstseq", "1"),
                        ("lastseq", "1"))
    def resent(now: float) -> list[tuple[tuple[str, str], ...]]:
        return [a.fields for a in n.feed(ask, now) if isinstance(a, SendForeign)
                and dict(a.fields)["seq"] == "1"]

    assert resent(2.5) == [first]  # unchanged: same seq, same ts
    assert resent(2.6) == []  # not twice within 240 ms
    assert resent(3.0) == [first]
    gone = n.feed(prime.message(("t", "NS_rexmit"), ("dest", "calc"), ("firstseq", "900"),
                                ("lastseq", "900")), 4.0)
    (nak,) = of_kind(gone, "NS_nak_rexmit")
    assert (nak["firstseq"], nak["dest"], nak["info"]) == ("384", "prime", "seqno not found")
    assert "seq" not in nak and "ld" not in nak  # NS_ messages carry neither


def test_gaps_are_asked_for_again_until_filled_then_acked() -> None:
    n, prime = node(), HbPeer()
    talking(n, prime)  # prime's seq 1
    status = (("t", "status"), ("st", "active"), ("protocol", "1"))
    for _ in range(2, 8):
        assert not of_kind(n.feed(prime.message(*status), 1.5), "NS_ackmsg")
    prime.seq = 14  # 8..14 lost on both links
    acts = n.feed(prime.message(*status), 2.0)  # seq 15
    asked = of_kind(acts, "NS_rexmit")
    assert [(m["firstseq"], m["lastseq"]) for m in asked] == [(str(s), str(s))
                                                              for s in range(8, 15)]
    assert all(m["dest"] == "prime" for m in asked)
    assert len(of_kind(n.feed(Tick(), 2.3), "NS_rexmit")) == 7  # asked again
    acked = []
    for s in range(8, 15):
        msg = prime.message(*status, seq=s)
        acked += [m["ackseq"] for m in of_kind(n.feed(msg, 2.4), "NS_ackmsg")]
    assert acked == ["a"]  # 10, once nothing before it is missing (heartbeat's rule)
    assert not of_kind(n.feed(Tick(), 3.0), "NS_rexmit")  # nothing missing any more
    acks = of_kind(ticks(n, prime, 4.0, 60.0), "NS_ackmsg")
    assert acks and all(int(m["ackseq"], 16) % 10 == 0 for m in acks)
    base = prime.seq
    prime.seq += 4
    n.feed(prime.message(*status), 61.0)
    nak = prime.message(("t", "NS_nak_rexmit"), ("firstseq", f"{base + 2:x}"),
                        ("dest", "calc"))
    n.feed(nak, 61.1)  # one of the 4 missing can never come: forgotten
    assert len(of_kind(n.feed(Tick(), 61.5), "NS_rexmit")) == 3


def test_a_message_on_both_links_is_handled_once_and_a_replay_never() -> None:
    n, prime = node(), HbPeer()
    talking(n, prime)
    once = prime.send(n, 2.0, ("t", "starting"))
    assert kinds(once).count("resource") == 1  # answered once, though heard twice
    replay = prime.message(("t", "starting"), seq=prime.seq)
    assert not kinds(n.feed(replay, 3.0))
    old = HbPeer(generation=prime.generation - 1, seq=50)
    assert not kinds(n.feed(old.message(("t", "starting")), 3.5))  # "replay attack"
    assert ETH != TTY
