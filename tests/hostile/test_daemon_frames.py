"""Hostile frames on the links of a running pair: counted and dropped, never acted upon.

Sent from calc's namespace to prime's eth1 address, port 694, and written into the serial cable
at calc's end: random bytes, truncated frames, frames signed with another key or an unknown key
index, an unknown sender, an authentic frame sent on the wrong link, a captured frame replayed,
and forged-but-authentic frames of calc's previous generation (what a replay of an older
capture is). prime must count them (status `rejected*`, `replayed`), keep the group, keep calc
alive and stay up; calc must not take anything over.
"""

from __future__ import annotations

import os
import random

import pytest
import trio
from harness_fixtures import capture_udp, send_udp
from pair import ADDRESSES, Pair

from twinbeat import wire
from twinbeat.config import load
from twinbeat.engine import keyring_from_config

pytestmark = pytest.mark.root

GUARD = 60
SERIAL_LINK_ID = 0x80  # the first serial line's link_id (internals §1)


def forge(config, keyring, *, generation, sequence, link_id=0, sender="calc"):
    return wire.encode(keyring, sender=sender, fingerprint=config.fingerprint,
                       generation=generation, sequence=sequence, timestamp_ms=1, echo_ms=0,
                       echo_delay_ms=0, link_id=link_id, node_state=2, node_flags=0,
                       groups=b"\x00")


def other_keyring(index):
    return wire.Keyring({index: ("sha256", os.urandom(32))}, index)


async def test_hostile_frames_are_counted_and_change_nothing(harness, tmp_path):
    rng = random.Random(694)
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        (pair.calc.files.state_dir / "generation").write_text("4\n")  # calc runs as generation 5
        await pair.start()
        config = load(str(pair.calc.files.config_dir), node="calc")
        keyring = keyring_from_config(config)
        peer = pair.prime.status()["peers"][0]
        assert peer["generation"] == 5
        serial = pair.serial_link["prime"]

        [captured] = await trio.to_thread.run_sync(capture_udp, harness, pair.ns["prime"],
                                                   ADDRESSES["calc"])
        seen = wire.decode_untrusted(captured, keyring)
        assert seen.sender == "calc" and seen.generation == 5
        before_ok = pair.prime.link("eth1")["frames_ok"]
        await pair.until(lambda: pair.prime.link("eth1")["frames_ok"] > before_ok + 3,
                         "prime has processed the captured frame")

        good = forge(config, keyring, generation=5, sequence=seen.sequence)
        hostile = (
            [rng.randbytes(rng.randrange(1, 300)) for _ in range(200)]           # noise
            + [captured[:n] for n in (0, 1, 8, len(captured) // 2, len(captured) - 1)]
            + [forge(config, other_keyring(1), generation=5, sequence=10**6)] * 3  # wrong key
            + [forge(config, other_keyring(7), generation=5, sequence=10**6)] * 3  # key index
            + [forge(config, keyring, generation=5, sequence=10**6, sender="mallory")] * 3
            + [forge(config, keyring, generation=5, sequence=10**6 + 1,
                     link_id=SERIAL_LINK_ID)] * 3                                 # wrong link
            + [captured] * 5 + [good] * 2                                         # replays
            + [forge(config, keyring, generation=4, sequence=10**6 + s) for s in range(5)]
        )
        await trio.to_thread.run_sync(send_udp, harness, pair.ns["calc"], hostile,
                                      ADDRESSES["prime"])

        # The same kinds of garbage on the serial cable, written into calc's end.
        fd = os.open(pair.serial_link["calc"], os.O_WRONLY | os.O_NOCTTY)
        try:
            os.write(fd, b"\x00" + rng.randbytes(500) + b"\x00")
            for frame in (forge(config, other_keyring(1), generation=5, sequence=10**6,
                                link_id=SERIAL_LINK_ID),
                          captured[:20],
                          forge(config, keyring, generation=4, sequence=10**6,
                                link_id=SERIAL_LINK_ID)):
                os.write(fd, wire.cobs_frame(frame))
        finally:
            os.close(fd)

        def counted():
            status = pair.prime.status()
            eth1 = next(link for link in status["links"] if link["name"] == "eth1")
            tty = next(link for link in status["links"] if link["name"] == serial)
            loose = status["rejected_unattributed"]
            return (eth1["replayed"] >= 12 and eth1["rejected"].get("link", 0) >= 3
                    and tty["replayed"] >= 1
                    and all(loose.get("eth1", {}).get(r, 0) >= 1
                            for r in ("mac", "length", "key", "unknown-peer"))
                    and loose.get(serial, {}).get("mac", 0) >= 1)

        await pair.until(counted, "prime counts every kind of hostile frame")
        start = pair.prime.link("eth1")["frames_ok"]
        await pair.until(lambda: pair.prime.link("eth1")["frames_ok"] > start + 20,
                         "calc's real heartbeats still arrive")
        status = pair.prime.status()
        assert pair.prime.running() and pair.calc.running()
        assert status["healthy"] is True, status
        assert status["peers"][0]["alive"] is True and status["peers"][0]["generation"] == 5
        assert status["groups"][0]["holder"] == "prime"
        assert pair.prime.holds() and not pair.calc.holds()
        assert "acquiring" not in pair.calc.log.read()
        assert "Heartbeat restart" not in pair.prime.log.read()
        assert "Traceback" not in pair.prime.log.read() + pair.calc.log.read()
