"""The engine's side of a reload: keys, links and params swapped together, or not at all."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_engine import KEYRING, LINKS, engine, frame, params, transmits

from twinbeat.core import CoreMisuse, LeftoversFound, Started, Tick
from twinbeat.wire import Keyring, decode_untrusted

NEW_KEY = ("sha256", b"n" * 32)
ROTATED = Keyring({1: ("sha256", b"k" * 32), 2: NEW_KEY}, 2)


def running():
    e = engine()
    e.feed(Started(), 100.0)
    e.feed(LeftoversFound(()), 100.0)
    return e


def test_the_peers_signing_slot_is_remembered() -> None:
    e = running()
    assert e.peer_key is None
    e.frame_event("eth1", frame(keyring=KEYRING))
    assert e.peer_key == 1
    e.reconfigure(params("prime", "calc"), ROTATED, LINKS, 100.5)
    e.frame_event("eth1", frame(keyring=ROTATED))
    assert e.peer_key == 2
    e.frame_event("eth1", frame(sender="prime", keyring=KEYRING))  # our own: not the peer's
    assert e.peer_key == 2


def test_new_keys_sign_the_very_next_heartbeat_and_verify_both_slots() -> None:
    e = running()
    outputs = e.reconfigure(params("prime", "calc"), ROTATED, LINKS, 100.5)
    assert outputs == []  # the same params: the core has nothing to do...
    sent = transmits(e.feed(Tick(), 101.5))
    assert sent, "a heartbeat is due"
    for _link, data in sent[0].payloads:
        assert decode_untrusted(data, ROTATED).key_index == 2  # ...but signs with key 2
    assert e.frame_event("eth1", frame(keyring=KEYRING)) is not None  # slot 1 still verifies


def test_a_link_added_gets_its_frame_and_counters() -> None:
    e = running()
    links = {**LINKS, "eth2": 1}
    p = replace(params("prime", "calc"), links=(*LINKS, "eth2"))
    outputs = e.reconfigure(p, KEYRING, links, 100.5)
    sent = transmits(outputs)
    assert [link for link, _ in sent[0].payloads] == ["eth1", "/dev/ttyS0", "eth2"]
    assert e.frame_event("eth2", frame(link_id=1)) is not None
    assert "eth2" in e.rejections.unattributed


def test_a_refused_reload_changes_nothing() -> None:
    e = running()
    before = e.params, e.keyring, dict(e.link_ids)
    bad = replace(params("prime", "calc"), generation=5)
    assert e.reconfigure_refusal(bad, LINKS) == "generation cannot change without a restart"
    with pytest.raises(CoreMisuse):
        e.reconfigure(bad, ROTATED, LINKS, 100.5)
    assert (e.params, e.keyring, e.link_ids) == before
    with pytest.raises(CoreMisuse):
        e.reconfigure(params("prime", "calc"), ROTATED, {"eth1": 0}, 100.5)
    assert e.keyring is KEYRING
