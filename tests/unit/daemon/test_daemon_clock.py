"""The daemon's own timing logic, on trio's MockClock (no sockets are opened).

`Daemon.handoff` waits for groups to move and gives up after its timeout; the core loop sleeps
until the core's next deadline. With `autojump_clock` a 60-second timeout takes milliseconds,
so these run the real code paths with the real timeouts.
"""

from __future__ import annotations

import os

import pytest
import trio

from twinbeat.config import load
from twinbeat.core import events as ev
from twinbeat.daemon.root import Daemon

HA_CF = """keepalive 2
deadtime 10
initdead 20
bcast eth1
node prime
node calc
auto_failback on
"""


@pytest.fixture
def daemon(tmp_path) -> Daemon:
    (tmp_path / "ha.cf").write_text(HA_CF)
    authkeys = tmp_path / "authkeys"
    authkeys.write_text("auth 1\n1 sha256 " + "ab" * 32 + "\n")
    os.chmod(authkeys, 0o600)
    (tmp_path / "haresources").write_text("prime 198.18.1.100\n")
    return Daemon(load(str(tmp_path), node="prime"), generation=1, run_dir=str(tmp_path / "run"))


def fake_status(holder: str | None, peer_alive: bool = True) -> dict:
    return {
        "node": "prime",
        "peers": [{"name": "calc", "alive": peer_alive}],
        "groups": [{"key": "IPaddr::198.18.1.100", "primary": "prime", "holder": holder}],
    }


async def test_standby_waits_until_the_group_has_moved(daemon, autojump_clock, monkeypatch):
    holders = iter(["prime"] * 40 + ["calc"] * 1000)  # moves after ~40 polls
    monkeypatch.setattr(daemon, "status", lambda: fake_status(next(holders)))
    started = trio.current_time()
    reply = await daemon.handoff("standby", "all", timeout=60.0)
    assert reply == {
        "ok": True,
        "moved": [{"key": "IPaddr::198.18.1.100", "from": "prime", "to": "calc"}],
    }
    assert trio.current_time() - started < 60.0
    event = daemon.events_out.receive_nowait()
    assert event == ev.StandbyRequested("all")


async def test_standby_that_never_completes_times_out_naming_the_group(
    daemon, autojump_clock, monkeypatch
):
    monkeypatch.setattr(daemon, "status", lambda: fake_status("prime"))
    started = trio.current_time()
    reply = await daemon.handoff("standby", "local", timeout=60.0)
    assert trio.current_time() - started == pytest.approx(60.0, abs=0.1)
    assert reply["ok"] is False
    assert reply["error"] == (
        "standby timed out after 60s: IPaddr::198.18.1.100 held by prime"
    )


async def test_standby_with_a_dead_peer_is_refused_at_once(daemon, autojump_clock, monkeypatch):
    monkeypatch.setattr(daemon, "status", lambda: fake_status("prime", peer_alive=False))
    reply = await daemon.handoff("standby", "all", timeout=60.0)
    assert reply == {"ok": False, "error": "standby refused: the peer is dead"}
    with pytest.raises(trio.WouldBlock):
        daemon.events_out.receive_nowait()  # nothing was asked of the core


async def test_takeover_of_foreign_groups_moves_nothing_when_only_local_ones_exist(
    daemon, autojump_clock, monkeypatch
):
    monkeypatch.setattr(daemon, "status", lambda: fake_status("calc"))
    reply = await daemon.handoff("takeover", "foreign", timeout=5.0)
    assert reply == {"ok": True, "moved": []}
