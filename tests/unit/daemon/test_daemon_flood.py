"""A flood on one link must not starve the other link nor the core (issue #11, item 4).

The daemon's real plumbing — `Daemon._deliver` (the links' receive callback), the queues and
`Daemon._core_loop` with the real engine and core — fed by two fake drivers on trio's
MockClock, no sockets. The UDP driver behaves like `UdpLink._drain` under a flood: its socket
is always readable, so each scheduler pass it delivers DRAIN_BATCH datagrams and yields; the
mock clock advances by each datagram's arrival interval, so a pass lasts as long as those
datagrams took to arrive at the flood's rate, and the core's timers fire between passes as
they would. The peer, prime, sends one authentic heartbeat every keepalive on each link.

Before the fix every datagram, junk included, became an event in one 1,024-slot queue that
the core task emptied one event per pass: the serial link's frames were dropped with the junk
and the peer was declared dead with its serial cable intact.
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass, field

import pytest
import trio
import trio.testing

from twinbeat import wire
from twinbeat.config import Config, load
from twinbeat.core import events as ev
from twinbeat.daemon import inbox
from twinbeat.daemon.root import Daemon
from twinbeat.engine import Engine, keyring_from_config
from twinbeat.links.udp import DRAIN_BATCH

HA_CF = """keepalive 10ms
deadtime 40ms
warntime 25ms
initdead 1
bcast eth1
serial /dev/ttyS0
node prime
node calc
"""
ETH, TTY = "eth1", "/dev/ttyS0"
KEEPALIVE = 0.01
RATE = 88_000.0  # datagrams/s: the review's worst replay
DURATION = 1.0  # virtual seconds of flood
PASS = DRAIN_BATCH / RATE  # virtual time one UDP drain (one scheduler pass) lasts


@pytest.fixture
def config(tmp_path) -> Config:
    (tmp_path / "ha.cf").write_text(HA_CF)
    authkeys = tmp_path / "authkeys"
    authkeys.write_text("auth 1\n1 sha256 " + "ab" * 32 + "\n")
    os.chmod(authkeys, 0o600)
    (tmp_path / "haresources").write_text("")
    return load(str(tmp_path), node="calc")


class FakeLink:
    """A link driver that records when the core sent on it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.up = True
        self.sent: list[float] = []
        self.last: bytes | None = None

    def send(self, data: bytes) -> bool:
        self.sent.append(trio.current_time())
        self.last = data
        return True

    def counters(self) -> dict[str, int]:
        return {"sent": len(self.sent)}


@dataclass
class Peer:
    """prime: heartbeat n is due at n * KEEPALIVE and goes out on both links, echoing the
    timestamp of calc's latest frame on that link, as a live peer does (a frame that echoes
    nothing of ours is not fresh: docs/core.md, Freshness)."""

    config: Config
    heard: dict[str, FakeLink] = field(default_factory=dict)  # calc's links, once it runs
    sent: dict[str, int] = field(default_factory=lambda: {ETH: 0, TTY: 0})

    def frame(self, link: str, sequence: int) -> bytes:
        keyring = keyring_from_config(self.config)
        link_id = {ln.name: ln.link_id for ln in self.config.hacf.links}[link]
        last = self.heard[link].last if link in self.heard else None
        echo = wire.decode_untrusted(last, keyring).timestamp_ms if last else 0
        return wire.encode(
            keyring, sender="prime",
            fingerprint=self.config.fingerprint, generation=5, sequence=sequence,
            timestamp_ms=sequence * 10, echo_ms=echo, echo_delay_ms=0, link_id=link_id,
            node_state=2, node_flags=0, groups=b"",
        )

    def due(self, link: str, now: float) -> bytes | None:
        """The next authentic frame on `link` if its time has come."""
        sequence = self.sent[link] + 1
        if now < sequence * KEEPALIVE:
            return None
        self.sent[link] = sequence
        return self.frame(link, sequence)


async def serial_peer(daemon: Daemon, peer: Peer) -> None:
    """The serial driver: one frame per keepalive, nothing else on the line."""
    while trio.current_time() < DURATION:
        data = peer.due(TTY, trio.current_time())
        if data is not None:
            daemon._deliver(TTY, data)
        await trio.sleep_until(KEEPALIVE * (peer.sent[TTY] + 1))


async def udp_flood(daemon: Daemon, clock: trio.testing.MockClock, peer: Peer,
                    junk: bytes) -> int:
    """The UDP driver under a flood: DRAIN_BATCH datagrams per pass; the number of junk."""
    flood = 0
    while trio.current_time() < DURATION:
        for _ in range(DRAIN_BATCH):
            data = peer.due(ETH, trio.current_time())
            if data is None:
                data, flood = junk, flood + 1
            daemon._deliver(ETH, data)
            clock.jump(1 / RATE)
        await trio.lowlevel.checkpoint()
    return flood


async def run_flood(config: Config, clock: trio.testing.MockClock, junk: bytes | None
                    ) -> tuple[Daemon, Peer, int]:
    """Start calc's daemon plumbing, flood eth1 for DURATION, let the core catch up."""
    daemon = Daemon(config, generation=1, run_dir="/nonexistent")
    fakes = {name: FakeLink(name) for name in daemon.links}
    daemon.links = fakes  # type: ignore[assignment]
    peer = Peer(config, heard=fakes)
    junk = peer.frame(ETH, 1) if junk is None else junk  # None: replay prime's first frame
    result = 0
    async with trio.open_nursery() as nursery:
        daemon._nursery = nursery
        daemon.engine = Engine.from_config(config, 1, trio.current_time())
        daemon._feed(ev.Started())
        daemon._feed(ev.LeftoversFound(()))
        nursery.start_soon(daemon._core_loop)
        async with trio.open_nursery() as drivers:
            drivers.start_soon(serial_peer, daemon, peer)

            async def flood() -> None:
                nonlocal result
                result = await udp_flood(daemon, clock, peer, junk)

            drivers.start_soon(flood)
        for _ in range(20):  # no more input: the core empties what is queued
            await trio.lowlevel.checkpoint()
        nursery.cancel_scope.cancel()
    return daemon, peer, result


def link(status: dict, name: str) -> dict:
    return next(lk for lk in status["links"] if lk["name"] == name)


def worst_send_gap(fake: FakeLink) -> float:
    return max(b - a for a, b in itertools.pairwise(fake.sent))


async def test_junk_flood_on_udp_loses_no_authentic_frame_on_either_link(
    config, mock_clock, caplog
):
    caplog.set_level(logging.INFO, logger="twinbeat")
    junk = bytes(range(60))  # refused at its first byte (magic)
    daemon, peer, flood = await run_flood(config, mock_clock, junk)
    status = daemon.status()
    assert flood > 80_000
    # Every authentic frame reached the core, on the flooded link and on the other one.
    assert peer.sent[TTY] >= 99 and peer.sent[ETH] >= 99
    assert link(status, TTY)["frames_ok"] == peer.sent[TTY]
    assert link(status, ETH)["frames_ok"] == peer.sent[ETH]
    # The junk was counted, each datagram once, and none of it was queued.
    assert status["rejected_unattributed"] == {ETH: {"magic": flood}}
    assert status["frames_dropped_queue_full"] == 0
    assert status["peers"][0]["alive"] is True
    assert not [r.message for r in caplog.records if "dead" in r.message]
    # Heartbeats went out on time: a keepalive plus two flood passes at most. Timers fire
    # between passes, and a heartbeat sent while a frame is fed is timed (by the core) at the
    # frame's arrival, up to one pass before it really goes out.
    for fake in daemon.links.values():
        assert worst_send_gap(fake) <= KEEPALIVE + 2 * PASS + 1e-6  # type: ignore[arg-type]


async def test_flood_the_core_cannot_keep_up_with_drops_only_the_flooded_links_frames(
    config, mock_clock, caplog, monkeypatch
):
    """Replays of a captured frame are authentic bytes: they are queued and the core must
    judge each one. With a core four times slower than the flood, the serial link still
    gets every frame through, and prime's fresh frames on eth1 get their link's share."""
    caplog.set_level(logging.INFO, logger="twinbeat")
    monkeypatch.setattr(inbox, "CORE_BATCH", DRAIN_BATCH // 4)
    daemon, peer, flood = await run_flood(config, mock_clock, None)
    status = daemon.status()
    eth, tty = link(status, ETH), link(status, TTY)
    assert tty["frames_ok"] == peer.sent[TTY] >= 99
    assert status["peers"][0]["alive"] is True
    dead = {r.message for r in caplog.records if "dead" in r.message}
    assert dead <= {"Link prime:eth1 dead."}  # eth1 may flap; the peer and serial never die
    # What the core judged on eth1 (replays and fresh frames alike), out of what arrived.
    judged = eth["replayed"] + eth["unechoed"] + eth["stale"] + eth["frames_ok"]
    share = judged / (flood + peer.sent[ETH])
    assert 0.15 < share < 0.5
    assert eth["frames_ok"] / peer.sent[ETH] >= share / 2  # fresh frames not disadvantaged
    # The queue overflowed on eth1 only, and said so.
    assert status["drivers"][ETH]["queue_full_dropped"] > flood / 2
    assert status["drivers"][TTY]["queue_full_dropped"] == 0
    assert status["frames_dropped_queue_full"] == status["drivers"][ETH]["queue_full_dropped"]
