"""Replays across a restart, and a peer whose generation went backwards (issue #11, 5 and 6).

Two real daemons (pair.py, UDP only so that every frame of prime's crosses one socket).

- calc restarts while prime is down, and an attacker replays a capture of prime's frames
  (prime holding the group) at it: calc must not see prime alive, and must take the group.
- prime comes back with a lower generation (its state dir restored from an older copy):
  calc must accept it once its frames echo calc's, say so once, and hand the group back
  (auto_failback on), instead of counting every frame as a replay while holding everything.
"""

from __future__ import annotations

from functools import partial

import pytest
import trio
from harness_fixtures import capture_udp, python_ok
from pair import ADDRESSES, Pair

from twinbeat import wire
from twinbeat.config import load
from twinbeat.engine import keyring_from_config

pytestmark = pytest.mark.root

GUARD = 90
REPLAY_INTERVAL = 0.3


def replay_slowly(pair: Pair, frames: list[bytes], interval: float) -> None:
    """Send the captured frames at calc from prime's namespace, one every `interval` s, in
    the order they were captured: each one's sequence number is new to a restarted calc."""
    chunk = [f.hex() for f in frames]
    python_ok(pair.harness, pair.ns["prime"], (
        "import socket, time\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        f"for d in {chunk!r}:\n"
        f"    s.sendto(bytes.fromhex(d), ({ADDRESSES['calc']!r}, 694))\n"
        f"    time.sleep({interval})\n"
    ))


async def test_replayed_frames_after_a_restart_do_not_fake_a_live_peer(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path, serial=False)
        await pair.start()
        capture = await trio.to_thread.run_sync(  # 8 s of prime's heartbeats
            lambda: capture_udp(harness, pair.ns["calc"], ADDRESSES["prime"], count=80))
        keyring = keyring_from_config(load(str(pair.calc.files.config_dir), node="calc"))
        assert {wire.decode_untrusted(f, keyring).groups for f in capture} == {b"\x02"}
        assert pair.prime.kill()  # prime's daemon is gone for good
        await pair.until(pair.calc.holds, "calc takes the group over")
        pair.calc.stop()
        assert not pair.calc.holds()  # it released the group on its way out
        mark = pair.calc.log.mark()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(trio.to_thread.run_sync, replay_slowly, pair, capture,
                                       REPLAY_INTERVAL, abandon_on_cancel=True))
            pair.calc.start(wait=False)
            # initdead is 2 s; the replays would fake prime for len(capture) * 0.3 = 24 s.
            await pair.until(pair.calc.holds, "calc, restarted, acquires the group despite "
                                              "the replayed frames", timeout=10)
            status = pair.calc.status()
            assert status is not None and status["peers"][0]["alive"] is False, status
            link = pair.calc.link("eth1")
            assert link is not None
            assert link["up"] is False and link["frames_ok"] == 0, link
            assert link["unechoed"] + link["replayed"] > 0, link
            nursery.cancel_scope.cancel()
        log = pair.calc.log.read(mark)
        assert "node prime: is dead" in log
        assert "Link prime:eth1 up." not in log
        assert "Traceback" not in log


async def test_a_generation_that_went_backwards_is_accepted_once_it_echoes(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path, serial=False)
        (pair.prime.files.state_dir / "generation").write_text("6\n")  # prime runs as 7
        await pair.start()
        assert pair.calc.status()["peers"][0]["generation"] == 7
        pair.prime.stop()
        await pair.until(pair.calc.holds, "calc takes the group over")
        (pair.prime.files.state_dir / "generation").write_text("1\n")  # restored: runs as 2
        mark = pair.calc.log.mark()
        pair.prime.start(wait=False)
        await pair.settled("prime")  # auto_failback on: the group goes back to prime
        status = pair.calc.status()
        assert status["peers"][0]["alive"] is True and status["peers"][0]["generation"] == 2
        log = pair.calc.log.read(mark)
        warning = ("node prime: generation went backwards (7 -> 2): state dir lost or "
                   "restored from a snapshot? accepting it: it echoes our frames")
        assert log.count(warning) == 1, log
        assert (pair.calc.files.state_dir / "peer-generation").read_text() == "prime 2\n"
