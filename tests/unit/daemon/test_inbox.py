"""The core task's queues (daemon/inbox.py): per-link bounds, fairness, nothing else dropped."""

from __future__ import annotations

import itertools

import trio

from twinbeat.core import FrameReceived, GroupStarted, PingReachability, Tick
from twinbeat.daemon.inbox import DIRECT_FEEDS, Inbox


def frame(link: str, sequence: int) -> FrameReceived:
    return FrameReceived(link=link, peer="prime", generation=1, sequence=sequence,
                         timestamp_ms=sequence, echo_ms=0, echo_delay_ms=0, fingerprint=0,
                         node_state=2, node_flags=0, groups=b"")


def test_a_full_link_queue_drops_its_own_oldest_frame_and_counts_it() -> None:
    inbox = Inbox(["eth1", "tty"], depth=3)
    for n in range(1, 6):
        inbox.put_frame("eth1", frame("eth1", n), at=float(n))
    inbox.put_frame("tty", frame("tty", 1), at=1.5)
    assert inbox.dropped == {"eth1": 2, "tty": 0}
    batch = inbox.take(100)
    assert [(e.link, e.sequence, at) for e, at in batch] == [  # type: ignore[union-attr]
        ("eth1", 3, 3.0), ("tty", 1, 1.5), ("eth1", 4, 4.0), ("eth1", 5, 5.0)]
    assert len(inbox) == 0


def test_control_events_are_never_dropped_and_come_first() -> None:
    inbox = Inbox(["eth1"], depth=1)
    inbox.put_frame("eth1", frame("eth1", 1), at=0.0)
    for n in range(1000):
        inbox.send_nowait(GroupStarted(f"g{n}"))
    inbox.send_nowait(PingReachability(False))
    batch = inbox.take(2000)
    assert len(batch) == 1002
    assert batch[0] == (GroupStarted("g0"), None)
    assert batch[1000] == (PingReachability(False), None)
    assert batch[-1][0] == frame("eth1", 1)


def test_take_serves_the_links_round_robin_within_its_budget() -> None:
    inbox = Inbox(["eth1", "eth2", "tty"], depth=100)
    for n in range(50):
        inbox.put_frame("eth1", frame("eth1", n), at=0.0)
    inbox.put_frame("tty", frame("tty", 0), at=0.0)
    inbox.put_frame("eth2", frame("eth2", 0), at=0.0)
    first = [e.link for e, _ in inbox.take(4)]  # type: ignore[union-attr]
    assert first == ["eth1", "eth2", "tty", "eth1"]
    # The next take starts with the next link: none is always served first.
    inbox.put_frame("tty", frame("tty", 1), at=0.0)
    inbox.put_frame("eth2", frame("eth2", 1), at=0.0)
    second = [e.link for e, _ in inbox.take(2)]  # type: ignore[union-attr]
    assert second == ["eth2", "tty"]
    assert len(inbox) == 48


async def test_wait_returns_when_anything_is_queued() -> None:
    inbox = Inbox(["eth1"])
    woke: list[float] = []

    async def consumer() -> None:
        await inbox.wait()
        woke.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        await trio.sleep(1)
        assert woke == []
        await inbox.send(Tick())
    assert len(woke) == 1
    await inbox.wait()  # already queued: returns at once


async def test_serve_feeds_all_in_time_bounded_batches_with_the_timers_between(mock_clock):
    """A core slower than its batch budget (1 ms per event, 2 ms per batch): nothing taken
    is lost when a batch stops early, the links alternate, and a due tick goes in between."""
    inbox = Inbox(["eth1", "tty"])
    for n in range(10):
        inbox.put_frame("eth1", frame("eth1", n), at=0.0)
        inbox.put_frame("tty", frame("tty", n), at=0.0)
    fed: list[object] = []
    due = [0.0015]  # the next heartbeat

    def feed(event: object, at: float | None) -> None:
        fed.append(event)
        if isinstance(event, Tick):
            due[0] = trio.current_time() + 0.01
        mock_clock.jump(0.001)

    def frames() -> list[FrameReceived]:
        return [e for e in fed if isinstance(e, FrameReceived)]

    with trio.fail_after(1):
        await inbox.serve(lambda: due[0], feed, lambda: len(frames()) == 20)
    assert sorted((f.link, f.sequence) for f in frames()) == sorted(
        (link, n) for link in ("eth1", "tty") for n in range(10))
    links = [f.link for f in frames()]
    assert all(a != b for a, b in itertools.pairwise(links))  # round robin
    assert fed[2] == Tick()  # after the first 2 ms batch, before any more frames
    assert fed.count(Tick()) == 2  # every 10 ms of feeding


async def test_a_frame_is_fed_at_once_while_the_core_task_sleeps_and_moves_its_sleep(
        autojump_clock):
    """Issue #17: a frame that finds the core task asleep and nothing queued is fed from the
    driver's callback; the core task's sleep moves to the core's new deadline (no wake-up left
    at the old one); past DIRECT_FEEDS frames queue and wake it; a feed that stops wakes it."""
    inbox = Inbox(["eth1", "tty"])
    fed: list[tuple[object, float | None]] = []
    due = [1.0]  # the next heartbeat
    asked: list[float] = []  # when the core's deadline was asked: the core task's wake-ups

    def feed(event: object, at: float | None) -> None:
        fed.append((event, at))
        if isinstance(event, FrameReceived) and event.sequence == 1:
            due[0] = 1.5  # the keepalive went out early with the peer's frame
        if isinstance(event, Tick):
            due[0] = trio.current_time() + 1

    def deadline() -> float:
        asked.append(trio.current_time())
        return due[0]

    async with trio.open_nursery() as nursery:
        nursery.start_soon(inbox.serve, deadline, feed, lambda: any(
            isinstance(e, FrameReceived) and e.sequence == 99 for e, _ in fed))
        await trio.sleep(0.5)
        inbox.put_frame("eth1", frame("eth1", 1), at=0.5)
        assert fed == [(frame("eth1", 1), 0.5)] and len(inbox) == 0  # fed there and then
        await trio.sleep(1.2)  # to 1.7
        assert 1.0 not in asked  # the sleep moved from 1.0 to 1.5
        assert fed[-1] == (Tick(), None) and due[0] == 2.5
        fed.clear()
        for n in range(2, 2 + DIRECT_FEEDS + 2):
            inbox.put_frame("tty", frame("tty", n), at=1.7)
        assert [e.sequence for e, _ in fed] == list(range(2, 2 + DIRECT_FEEDS))  # type: ignore[attr-defined]
        assert len(inbox) == 2  # the rest queued, and the core task woken for them
        await trio.sleep(0)
        await trio.sleep(0)
        assert len(inbox) == 0 and len(fed) == DIRECT_FEEDS + 2
        await trio.sleep(0.1)
        inbox.put_frame("eth1", frame("eth1", 99), at=trio.current_time())
    assert trio.current_time() < 2.5  # the stop woke the core task, which returned
