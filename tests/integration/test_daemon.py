"""Two real daemons in namespaces: links, liveness, failover, handoff (issue #5's daemon list).

Each test builds its own pair (tests/integration/pair.py, on the product harness): prime and
calc, eth1 (bcast) and a socat null-modem cable, one group `dummy` whose "service" is a marker
file per node. Timers are short (keepalive 100ms, deadtime 1, initdead 2); assertions are about
behaviour (who holds the group, which log lines appear, counters), never about how long
something took. "No takeover"
is shown by letting the surviving link carry well over a deadtime's worth of heartbeats.
"""

from __future__ import annotations

import signal

import pytest
import trio
from pair import Pair

pytestmark = pytest.mark.root

GUARD = 60
# Heartbeats to watch on a surviving link before concluding "no takeover": 3 deadtimes' worth.
QUIET_FRAMES = 30


def frames_ok(node, link_name):
    link = node.link(link_name)
    return 0 if link is None else link["frames_ok"]


async def carries_on(pair, link_names):
    """Wait until every node counted QUIET_FRAMES more good frames on its surviving link."""
    start = {n.name: frames_ok(n, link_names[n.name]) for n in pair.nodes}
    await pair.until(
        lambda: all(frames_ok(n, link_names[n.name]) >= start[n.name] + QUIET_FRAMES
                    for n in pair.nodes),
        "the surviving link carries on")


def link_is(node, name, up):
    link = node.link(name)
    return link is not None and link["up"] is up


def history(node):
    """The resource script's start/stop calls on this node: [(verb, wall-clock time)]."""
    try:
        text = node.history.read_text()
    except FileNotFoundError:
        return []
    return [(verb, float(t)) for verb, t in (line.split() for line in text.splitlines())]


async def test_two_daemons_see_each_other_on_both_links(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        for node, peer in ((pair.prime, "calc"), (pair.calc, "prime")):
            names = {"eth1", pair.serial_link[node.name]}

            def all_up(node=node, names=names):
                status = node.status()
                return status is not None and status["healthy"] and all(
                    link["up"] and link["frames_ok"] > 0 for link in status["links"]
                ) and {link["name"] for link in status["links"]} == names

            await pair.until(all_up, f"{node.name} sees both links up")
            code, status = node.status_cli()
            assert code == 0, status
            assert status["node"] == node.name and status["state"] == "active"
            assert [(p["name"], p["alive"]) for p in status["peers"]] == [(peer, True)]
            assert all(link["peer"] == peer for link in status["links"])
            assert status["groups"][0]["holder"] == "prime"
            # The drivers' own counters: both links open, frames sent and received.
            assert set(status["drivers"]) == names
            for counters in status["drivers"].values():
                assert counters["open"] is True
                assert counters["sent"] > 0 and counters["received"] > 0
            assert status["drivers"][pair.serial_link[node.name]]["serial_garbage_bytes"] == 0
            assert status["frames_dropped_queue_full"] == 0
        assert pair.prime.holds() and not pair.calc.holds()
        assert pair.prime.group()["state"] == "held"
        assert pair.calc.group()["state"] == "none"
        assert "Resource group dummy acquired" in pair.prime.log.read()
        assert "Initial resource acquisition complete" in pair.prime.log.read()
        assert "acquiring resource group" not in pair.calc.log.read()


async def test_udp_link_death_is_reported_without_takeover(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        marks = {n.name: n.log.mark() for n in pair.nodes}
        pair.set_eth1(False)
        # eth1 loses its carrier: dead at once, without waiting for deadtime (docs/links.md).
        await pair.until(
            lambda: "Link calc:eth1 dead (carrier lost)." in pair.prime.log.read(marks["prime"])
            and "Link prime:eth1 dead (carrier lost)." in pair.calc.log.read(marks["calc"]),
            "both sides log eth1 dead")
        await carries_on(pair, pair.serial_link)
        for node in pair.nodes:
            code, status = node.status_cli()
            assert code == 1, status
            assert status["healthy"] is False
            links = {link["name"]: link["up"] for link in status["links"]}
            assert links == {"eth1": False, pair.serial_link[node.name]: True}
            assert status["peers"][0]["alive"] is True
            assert status["groups"][0]["holder"] == "prime"
        assert pair.prime.holds() and not pair.calc.holds()
        assert "is dead" not in pair.calc.log.read(marks["calc"])
        assert "acquiring" not in pair.calc.log.read(marks["calc"])

        marks = {n.name: n.log.mark() for n in pair.nodes}
        pair.set_eth1(True)
        await pair.until(lambda: "Link calc:eth1 up." in pair.prime.log.read(marks["prime"])
                         and "Link prime:eth1 up." in pair.calc.log.read(marks["calc"]),
                         "both sides log eth1 up again")
        for node in pair.nodes:
            await pair.until(lambda node=node: (node.status() or {}).get("healthy") is True,
                             f"{node.name} healthy again")
            code, _status = node.status_cli()
            assert code == 0
        assert pair.prime.holds() and not pair.calc.holds()


async def test_serial_link_death_is_reported_without_takeover_and_recovers(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        serial = pair.serial_link
        marks = {n.name: n.log.mark() for n in pair.nodes}
        assert pair.cable is not None
        pair.cable.pull()
        await pair.until(  # the ptys hang up: dead at once
            lambda: f"Link calc:{serial['prime']} dead (carrier lost)."
            in pair.prime.log.read(marks["prime"])
            and f"Link prime:{serial['calc']} dead (carrier lost)."
            in pair.calc.log.read(marks["calc"]),
            "both sides log the serial link dead")
        await carries_on(pair, {"prime": "eth1", "calc": "eth1"})
        for node in pair.nodes:
            code, status = node.status_cli()
            assert code == 1 and status["healthy"] is False, status
            links = {link["name"]: link["up"] for link in status["links"]}
            assert links == {"eth1": True, serial[node.name]: False}
            assert status["peers"][0]["alive"] is True
        assert pair.prime.holds() and not pair.calc.holds()
        assert "acquiring" not in pair.calc.log.read(marks["calc"])

        before = {n.name: frames_ok(n, serial[n.name]) for n in pair.nodes}
        marks = {n.name: n.log.mark() for n in pair.nodes}
        pair.cable.plug()  # socat again, at the same paths: the daemons reopen the ptys
        await pair.until(
            lambda: f"Link calc:{serial['prime']} up." in pair.prime.log.read(marks["prime"])
            and f"Link prime:{serial['calc']} up." in pair.calc.log.read(marks["calc"]),
            "both sides log the serial link up again")
        await pair.until(lambda: all(frames_ok(n, serial[n.name]) > before[n.name] + 10
                                     for n in pair.nodes), "frames flow on the serial link")
        for node in pair.nodes:
            await pair.until(lambda node=node: (node.status() or {}).get("healthy") is True,
                             f"{node.name} healthy again")
        assert pair.prime.holds() and not pair.calc.holds()


async def test_both_links_cut_means_takeover_and_healing_leaves_one_holder(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        mark = pair.calc.log.mark()
        assert pair.cable is not None
        pair.set_eth1(False)
        pair.cable.pull()
        await pair.until(pair.calc.holds, "calc takes the group over")
        calc_log = pair.calc.log.read(mark)
        assert "node prime: is dead" in calc_log
        assert calc_log.index("node prime: is dead") < calc_log.index(
            "acquiring resource group: dummy")
        await pair.until(lambda: "Resource group dummy acquired" in pair.calc.log.read(mark),
                         "calc logs the group acquired")
        # No fencing: the isolated prime keeps its copy (heartbeat does the same).
        assert pair.prime.holds()
        assert pair.prime.running() and pair.calc.running()

        # Healing: the split brain is noticed and exactly one holder remains (prime: failback).
        pair.set_eth1(True)
        pair.cable.plug()
        await pair.settled("prime")
        assert pair.prime.running() and pair.calc.running()


async def test_sigterm_hands_the_group_over_gracefully(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        mark = pair.calc.log.mark()
        pair.prime.signal(signal.SIGTERM)
        assert await pair.prime.wait_exit() == 0, pair.tails()
        prime_log = pair.prime.log.read()
        assert "SIGTERM received" in prime_log
        assert prime_log.index("releasing resource group: dummy") < prime_log.index(
            "twinbeat shutdown complete")
        assert not pair.prime.holds()
        code, status = pair.prime.status_cli()
        assert code == 2 and status["running"] is False  # no daemon behind the socket any more
        await pair.until(pair.calc.holds, "calc takes the group over")
        await pair.until(lambda: (pair.calc.group() or {}).get("state") == "held",
                         "calc reports the group held")
        assert "Received shutdown notice from 'prime'" in pair.calc.log.read(mark)
        # Handed over, never held twice: prime's stop finished before calc's start began.
        last_stop = max(t for verb, t in history(pair.prime) if verb == "stop")
        first_start = min(t for verb, t in history(pair.calc) if verb == "start")
        assert last_stop <= first_start
        code, status = pair.calc.status_cli()
        assert code == 1 and status["healthy"] is False, status  # the peer has left
        await pair.until(lambda: not pair.calc.status()["peers"][0]["alive"],
                         "calc declares the departed prime dead")
        assert "node prime: is dead" in pair.calc.log.read(mark)


async def test_sigkill_of_the_holder_means_takeover_after_deadtime(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        mark = pair.calc.log.mark()
        assert pair.prime.kill()
        await pair.until(pair.calc.holds, "calc takes the group over")
        calc_log = pair.calc.log.read(mark)
        assert "node prime: is dead" in calc_log
        assert "Received shutdown notice" not in calc_log
        assert pair.prime.holds()  # SIGKILL of the daemon alone leaves the "service" running
        await pair.until(lambda: (pair.calc.group() or {}).get("holder") == "calc",
                         "calc reports itself the holder")


async def test_standby_and_takeover_through_the_cli(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        # Each step: (node running the command, command, expected move, holder afterwards);
        # the last two run from the other side: calc takes it, then gives it back.
        steps = [
            (pair.prime, "standby", "dummy: prime -> calc", "calc"),
            (pair.prime, "takeover", "dummy: calc -> prime", "prime"),
            (pair.calc, "takeover", "dummy: prime -> calc", "calc"),
            (pair.calc, "standby", "dummy: calc -> prime", "prime"),
        ]
        for node, command, moved, holder in steps:
            result = node.twinbeat(command, "--timeout", "20")
            assert result.returncode == 0, (result.stderr, pair.tails())
            assert result.stdout.strip() == moved
            await pair.settled(holder)


async def test_standby_is_refused_when_the_peer_is_dead(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        assert pair.calc.kill()
        await pair.until(lambda: not (pair.prime.status() or {"peers": [{"alive": True}]})
                         ["peers"][0]["alive"], "prime sees calc dead")
        result = pair.prime.twinbeat("standby", "--timeout", "5")
        assert result.returncode == 1
        assert "refused" in result.stderr and "dead" in result.stderr, result.stderr
        assert result.stdout == ""
        assert pair.prime.holds()
        assert (pair.prime.group() or {}).get("holder") == "prime"


async def test_restart_after_sigkill_stops_the_leftover_before_joining(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        assert pair.prime.kill()
        await pair.until(pair.calc.holds, "calc takes the group over")
        assert pair.prime.holds()  # the leftover: the "service" of the killed daemon
        mark = pair.prime.log.mark()
        stops_before = sum(1 for verb, _ in history(pair.prime) if verb == "stop")
        pair.prime.start(wait=False)
        await pair.settled("prime")  # auto_failback on: prime gets it back, once
        log = pair.prime.log.read(mark)
        found = log.index("Resource group dummy found running at start-up: stopping it")
        released = log.index("Resource group dummy released")
        joined = log.index("twinbeat: links open")
        acquiring = log.index("acquiring resource group: dummy")
        assert found < joined and found < released < acquiring, log
        calls = [verb for verb, _ in history(pair.prime)]
        assert calls.count("stop") == stops_before + 1
        assert calls[-2:] == ["stop", "start"]  # the leftover stopped, then a clean start
        assert "Heartbeat restart on node prime" in pair.calc.log.read()
        assert sum(n.holds() for n in pair.nodes) == 1
