"""The engine with a peer that still runs heartbeat 3.0.6 (issue #14, step 1).

Real heartbeat traffic (the captures' md5 run: prime and calc, key `hb-lab-secret`) through
`Engine.frame_event` on the links it came from, and the engine's and core's answer to it:
ForeignHeartbeat events, counted refusals, and never a group started while it is heard.
"""

from __future__ import annotations

import hb_captures as cap
from twinbeat.core import (
    PROTOCOL_HEARTBEAT,
    ForeignHeartbeat,
    GroupSpec,
    LeftoversFound,
    Params,
    Started,
    StartGroup,
    Tick,
)
from twinbeat.engine import Engine, heartbeat_event
from twinbeat.wire import (
    Deframer,
    HbField,
    HbMessage,
    Keyring,
    hb_decode_untrusted,
    hb_encode_classic,
)

KEYS, ACTIVE = cap.authkeys("md5")
KEYRING = Keyring(KEYS, ACTIVE)
LINKS = {"eth1": 0, "/dev/ttyS0": 0x80}
GROUPS = (GroupSpec("198.18.1.100", "prime"), GroupSpec("198.18.1.200", "calc"))


def engine(node: str = "calc", peer: str = "prime", now: float = 0.0, *,
           legacy: bool = False) -> Engine:
    params = Params(
        node=node, peer=peer, links=tuple(LINKS), keepalive=1.0, deadtime=3.0, warntime=1.5,
        initdead=12.0, auto_failback=True, groups=GROUPS, fingerprint=0xF00D, generation=4,
        legacy_failback=legacy,
    )
    return Engine(params, KEYRING, LINKS, now)


def udp_from(src: bytes) -> list[bytes]:
    found = []
    for d in cap.pcap_datagrams(cap.CAPTURES / "hb-md5.pcap"):
        if hb_decode_untrusted(d.payload, KEYRING).get(b"src") == src:
            found.append(d.payload)
    return found


def test_a_captured_status_message_becomes_foreign_heartbeat() -> None:
    e = engine()
    events = [e.frame_event("eth1", data) for data in udp_from(b"prime")]
    statuses = [ev for ev in events if isinstance(ev, ForeignHeartbeat)
                and ev.message_type == "status"]
    assert statuses and all(ev is not None for ev in events)
    first = statuses[0]
    assert (first.link, first.peer, first.protocol) == ("eth1", "prime", PROTOCOL_HEARTBEAT)
    assert first.status in ("init", "up", "active") and first.generation == 0x6B06886D
    assert [ev.sequence for ev in statuses] == sorted(ev.sequence or 0 for ev in statuses)


def test_a_serial_message_from_the_deframer_becomes_foreign_heartbeat() -> None:
    chunks = cap.serial_streams(cap.CAPTURES / "serial-md5.dump")[">"]
    deframer = Deframer()
    messages = [m for chunk in chunks for m in deframer.feed(chunk)]
    e = engine()
    events = [e.frame_event("/dev/ttyS0", m) for m in messages]
    assert all(isinstance(ev, ForeignHeartbeat) and ev.peer == "prime" for ev in events)


def test_refusals_are_counted_as_heartbeat_reasons() -> None:
    e = engine()
    data = udp_from(b"prime")[0]
    assert e.frame_event("eth1", data.replace(b"prime", b"primf")) is None  # digest broken
    assert e.frame_event("eth1", data[:-3]) is None  # trailer cut
    no_src = hb_encode_classic([HbField(b"t", b"status")], KEYRING)
    assert e.frame_event("/dev/ttyS0", no_src) is None
    rejected = {ls.name: ls.rejected for ls in e.snapshot().links}
    assert rejected["eth1"] == {"heartbeat-mac": 1, "heartbeat-syntax": 1}
    assert rejected["/dev/ttyS0"] == {"heartbeat-field": 1}


def test_what_the_core_reads_from_a_message() -> None:
    def msg(*fields: tuple[bytes, bytes]) -> HbMessage:
        return HbMessage(tuple(HbField(n, v) for n, v in fields), "classic", 1)

    ev = heartbeat_event("eth1", msg((b"t", b"status"), (b"st", b"up"), (b"src", b"prime"),
                                     (b"seq", b"2A"), (b"hg", b"zz")))
    assert ev == ForeignHeartbeat("eth1", "prime", PROTOCOL_HEARTBEAT, "status", "up", None, 42,
                                  (("t", "status"), ("st", "up"), ("src", "prime"),
                                   ("seq", "2A"), ("hg", "zz")))
    ack = heartbeat_event("eth1", msg((b"t", b"NS_ackmsg"), (b"src", b"prime"),
                                      (b"st", b"up")))
    assert ack is not None and ack.status is None and ack.sequence is None
    assert heartbeat_event("eth1", msg((b"t", b"status"))) is None
    assert heartbeat_event("eth1", msg((b"t", b"status"), (b"src", "prïme".encode()))) is None
    assert heartbeat_event("eth1", msg((b"t", b"x"), (b"src", b"p"), (b"seq", b"1" * 17))
                           ) == ForeignHeartbeat("eth1", "p", PROTOCOL_HEARTBEAT, "x", None,
                                                 None, None, (("t", "x"), ("src", "p"),
                                                              ("seq", "1" * 17)))


def replay_capture(e: Engine) -> list[object]:
    """prime's (and calc's own) real heartbeat traffic, replayed at its pace on eth1."""
    e.feed(Started(), 0.0)
    out: list[object] = list(e.feed(LeftoversFound(()), 0.0))
    datagrams = cap.pcap_datagrams(cap.CAPTURES / "hb-md5.pcap")
    t0 = datagrams[0].time
    for d in datagrams:
        now = d.time - t0
        out += e.feed(Tick(), now) if (e.next_deadline() or 1e9) <= now else []
        out += e.received("eth1", d.payload, now)
    return out


def test_the_captured_heartbeat_pair_never_makes_a_legacy_twinbeat_start_a_group() -> None:
    """auto_failback legacy: calc holds off (step 1) while prime is heard; prime's own
    messages looping back as calc's are ignored."""
    e = engine(legacy=True)
    out = replay_capture(e)
    assert not [o for o in out if isinstance(o, StartGroup)]
    (peer,) = e.snapshot().peers
    assert peer.alive and peer.protocol == PROTOCOL_HEARTBEAT


def test_the_captured_heartbeat_pair_leaves_calc_its_own_group_only() -> None:
    """auto_failback on: calc negotiates (r1.py); prime's messages say it holds its local
    group and is stable, so calc takes its own group and never prime's."""
    e = engine()
    out = replay_capture(e)
    assert [o.key for o in out if isinstance(o, StartGroup)] == ["198.18.1.200"]
    (peer,) = e.snapshot().peers
    assert peer.alive and peer.protocol == PROTOCOL_HEARTBEAT
