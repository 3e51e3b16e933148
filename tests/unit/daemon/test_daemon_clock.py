"""The daemon's own timing logic, on trio's MockClock (no sockets are opened).

`Daemon.handoff` asks the core for a plan, waits (woken by the core task) until the core's
snapshot says the groups moved, and gives up after its timeout; the core loop sleeps until
the core's next deadline. With `autojump_clock` a 60-second timeout takes milliseconds,
so these run the real code paths with the real timeouts.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import trio

from twinbeat.config import load
from twinbeat.core import HandoffPlan
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


KEY = "IPaddr::198.18.1.100"


class FakeEngine:
    """The two engine queries a handoff uses: the core's plan, and the holders it reports."""

    def __init__(self, plan: HandoffPlan, holder: str | None) -> None:
        self.plan = plan
        self.holder = holder

    def handoff_plan(self, request: object) -> HandoffPlan:
        return self.plan

    def snapshot(self) -> SimpleNamespace:
        return SimpleNamespace(groups=[SimpleNamespace(key=KEY, holder=self.holder)])


def use_engine(daemon: Daemon, plan: HandoffPlan, holder: str | None) -> FakeEngine:
    engine = FakeEngine(plan, holder)
    daemon.engine = engine  # type: ignore[assignment]
    return engine


async def core_moves_group_after(daemon: Daemon, engine: FakeEngine, feeds: int) -> None:
    """Play the core task: every 20 ms it processes something; after `feeds`, calc holds."""
    for _ in range(feeds):
        await trio.sleep(0.02)
        daemon._core_changed.set()
        daemon._core_changed = trio.Event()
    engine.holder = "calc"
    daemon._core_changed.set()


async def test_standby_waits_until_the_core_says_the_group_moved(daemon, autojump_clock):
    engine = use_engine(daemon, HandoffPlan((KEY,), "prime", "calc"), holder="prime")
    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(core_moves_group_after, daemon, engine, 40)
        reply = await daemon.handoff("standby", "all", timeout=60.0)
    assert reply == {"ok": True, "moved": [{"key": KEY, "from": "prime", "to": "calc"}]}
    assert trio.current_time() - started == pytest.approx(0.8, abs=0.05)
    assert daemon.events_in.take(10) == [(ev.StandbyRequested("all"), None)]


async def test_standby_that_never_completes_times_out_naming_the_group(daemon, autojump_clock):
    use_engine(daemon, HandoffPlan((KEY,), "prime", "calc"), holder="prime")
    started = trio.current_time()
    reply = await daemon.handoff("standby", "local", timeout=60.0)
    assert trio.current_time() - started == pytest.approx(60.0, abs=0.1)
    assert reply["ok"] is False
    assert reply["error"] == f"standby timed out after 60s: {KEY} held by prime"


async def test_a_request_the_core_refuses_is_answered_at_once(daemon, autojump_clock):
    use_engine(daemon, HandoffPlan((), "prime", "calc", "the peer is dead"), holder="prime")
    reply = await daemon.handoff("standby", "all", timeout=60.0)
    assert reply == {"ok": False, "error": "standby refused: the peer is dead"}
    assert daemon.events_in.take(10) == []  # nothing was asked of the core


async def test_takeover_that_moves_nothing_completes_at_once(daemon, autojump_clock):
    use_engine(daemon, HandoffPlan((), "calc", "prime"), holder="calc")
    started = trio.current_time()
    reply = await daemon.handoff("takeover", "foreign", timeout=5.0)
    assert reply == {"ok": True, "moved": []}
    assert trio.current_time() == started
