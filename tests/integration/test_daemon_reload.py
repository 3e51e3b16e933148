"""A reload of two real daemons (issue #16): SIGHUP, `twinbeat reload`, `check --diff`.

The pair of tests/integration/pair.py: prime and calc in namespaces, eth1 and a serial cable,
the group `dummy` (a marker file per node). The tests edit the files in each node's ha.d and
ask the daemons to reload; assertions are about behaviour (who holds what, the resource
script's own start/stop history, heartbeats counted by the link driver, processes), not time.
The same story with apache2 in the lab is tests/integration/test_lab_reload.py.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import trio
from pair import DUMMY_SCRIPT, Pair

pytestmark = pytest.mark.root

GUARD = 90


def edit(node, name: str, old: str, new: str) -> None:
    path = node.files.config_dir / name
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new, 1))


def append(node, name: str, line: str) -> None:
    path = node.files.config_dir / name
    path.write_text(path.read_text() + line + "\n")


def history(node, name: str = "history") -> list[str]:
    path = node.files.home / name
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def sent(node) -> int:
    return node.status()["drivers"]["eth1"]["sent"]


async def pace(node, seconds: float = 2.0) -> float:
    """Heartbeats per second on eth1, counted by the link driver."""
    before = sent(node)
    await trio.sleep(seconds)
    return (sent(node) - before) / seconds


def add_dummy2(node) -> Path:
    marker = node.files.home / "marker2"
    script = DUMMY_SCRIPT.format(node=node.name, marker=marker,
                                 history=node.files.home / "history2")
    path = node.files.resource_dir / "dummy2"
    path.write_text(script)
    os.chmod(path, 0o755)
    return marker


async def reloaded(pair: Pair, node, mark: int, what: str = "reload applied") -> None:
    await pair.until(lambda: what in node.log.read(mark), f"{node.name}: {what}")


async def test_sighup_applies_timers_and_groups_and_leaves_the_running_group_alone(
        harness, tmp_path) -> None:
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        starts = history(pair.prime)
        assert await pace(pair.prime) > 6  # keepalive 100ms
        markers = {}
        for node in pair.nodes:
            markers[node.name] = add_dummy2(node)
            edit(node, "ha.cf", "keepalive 100ms", "keepalive 300ms")
            append(node, "haresources", "prime dummy2")
        marks = [node.log.mark() for node in pair.nodes]
        for node in pair.nodes:
            node.signal(signal.SIGHUP)
        for node, mark in zip(pair.nodes, marks, strict=True):
            await reloaded(pair, node, mark)
        await pair.until(markers["prime"].exists, "prime starts dummy2")
        assert not markers["calc"].exists()
        assert await pace(pair.prime) < 5  # keepalive 300ms
        assert history(pair.prime) == starts  # dummy was never stopped nor started again
        assert pair.prime.holds()

        for node in pair.nodes:
            edit(node, "haresources", "prime dummy2\n", "")
        marks = [node.log.mark() for node in pair.nodes]
        for node in pair.nodes:
            node.signal(signal.SIGHUP)
        for node, mark in zip(pair.nodes, marks, strict=True):
            await reloaded(pair, node, mark)
        # The script removes its marker, then writes its history: wait for the history.
        await pair.until(lambda: "stop" in history(pair.prime, "history2"), "prime stops dummy2")
        assert not markers["prime"].exists()
        assert history(pair.prime, "history2") == ["start", "stop"]  # stopped once
        assert history(pair.prime) == starts
        await pair.until(lambda: len(pair.prime.status()["groups"]) == 1, "dummy2 forgotten")


async def test_a_bad_file_changes_nothing_and_says_where(harness, tmp_path) -> None:
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        ha_cf = pair.prime.files.config_dir / "ha.cf"
        good = ha_cf.read_text()
        ha_cf.write_text(good.replace("keepalive 100ms", "keepalive 300ms") + "deadtime soon\n")
        line = len(good.splitlines()) + 1
        result = pair.prime.twinbeat("reload")
        assert result.returncode == 1, result
        assert f"{ha_cf}:{line}: deadtime soon" in result.stderr
        assert "running configuration is unchanged" in result.stderr
        assert f"{ha_cf}:{line}: deadtime soon" in pair.prime.log.read()
        assert await pace(pair.prime) > 6  # still keepalive 100ms
        assert pair.prime.holds()


async def test_dry_run_check_diff_and_a_change_that_needs_a_restart(harness, tmp_path) -> None:
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        prime = pair.prime
        edit(prime, "ha.cf", "keepalive 100ms", "keepalive 200ms")
        result = prime.twinbeat("reload", "--dry-run")
        assert result.returncode == 0, result
        assert "keepalive 100ms -> 200ms" in result.stdout
        assert await pace(prime) > 6  # a dry run changes nothing
        result = prime.twinbeat("check", "--config-dir", str(prime.files.config_dir),
                                "--node", "prime", "--diff")
        assert result.returncode == 0, result
        assert "keepalive 100ms -> 200ms" in result.stdout
        edit(prime, "ha.cf", "realtime off", "realtime on")
        result = prime.twinbeat("reload")
        assert result.returncode == 1
        assert "realtime: needs a restart" in result.stderr
        assert await pace(prime) > 6


async def test_respawn_lines_follow_the_reload(harness, tmp_path) -> None:
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        prime = pair.prime
        append(prime, "ha.cf", "respawn nobody /bin/sleep 1000")
        result = prime.twinbeat("reload")
        assert result.returncode == 0, result
        assert "respawn: start nobody /bin/sleep 1000" in result.stdout

        def program() -> dict | None:
            found = (prime.status() or {}).get("respawn") or []
            return found[0] if found and found[0]["pid"] else None

        await pair.until(program, "the program runs")
        pid = program()["pid"]
        uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
        assert uid == 65534  # nobody
        edit(prime, "ha.cf", "respawn nobody /bin/sleep 1000\n", "")
        assert prime.twinbeat("reload").returncode == 0
        assert not Path(f"/proc/{pid}").exists()
        assert "respawn" not in prime.status()

        append(prime, "ha.cf", "respawn nobody /bin/sleep 2000")
        assert prime.twinbeat("reload").returncode == 0
        await pair.until(program, "the new program runs")
        pid = program()["pid"]
        prime.signal(signal.SIGTERM)  # a graceful stop: groups given up, then the programs
        assert await prime.wait_exit() == 0
        assert not Path(f"/proc/{pid}").exists()
        log = prime.log.read()
        assert log.index("Resource group dummy released") < log.index(
            "respawn: nobody /bin/sleep 2000: stopped")


def frames_ok(node, link: str) -> int:
    found = node.link(link)
    return 0 if found is None else found["frames_ok"]


async def heard_on(pair: Pair, node, link: str, frames: int = 10) -> None:
    """`node` counts `frames` more good frames from its peer on `link`."""
    start = frames_ok(node, link)
    await pair.until(lambda: frames_ok(node, link) >= start + frames,
                     f"{node.name} hears its peer on {link}")


def reload_ok(node) -> str:
    result = node.twinbeat("reload")
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout + result.stderr


async def test_links_removed_added_and_reopened_by_reloads(harness, tmp_path) -> None:
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        prime, calc = pair.nodes
        tty = pair.serial_link["calc"]
        edit(prime, "ha.cf", "bcast eth1\n", "")
        assert "link eth1: removed" in reload_ok(prime)
        assert [link["name"] for link in prime.status()["links"]] == [
            pair.serial_link["prime"]]
        await pair.until(lambda: "Link prime:eth1 dead." in calc.log.read(), "calc: eth1 dead")
        await heard_on(pair, calc, tty)  # the cable carries the cluster
        assert prime.holds() and calc.status()["peers"][0]["alive"]

        edit(prime, "ha.cf", "udpport 694", "udpport 694\nbcast eth1")
        assert "link eth1: added" in reload_ok(prime)
        await heard_on(pair, calc, "eth1")
        await heard_on(pair, prime, "eth1")

        edit(calc, "ha.cf", "baud 115200", "baud 38400")
        assert f"link {tty}: changed (reopened)" in reload_ok(calc)
        await heard_on(pair, prime, pair.serial_link["prime"])
        await heard_on(pair, calc, tty)
        assert "cannot open" not in calc.log.read().split("reload applied")[-1]
        assert prime.holds() and not calc.holds()


async def test_a_key_change_by_reloads_one_node_at_a_time(harness, tmp_path) -> None:
    """docs/operations.md, "Changing keys": the nodes never stop hearing each other."""
    new_key = "7a" * 32
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        await pair.start()
        prime, calc = pair.nodes
        for node in pair.nodes:
            append(node, "authkeys", f"2 sha256 {new_key}")
            assert "key 2 added (sha256)" in reload_ok(node)
        edit(prime, "authkeys", "auth 1", "auth 2")
        out = reload_ok(prime)
        assert "signing with key 2 (was 1)" in out
        assert "warning: the peer must already accept key 2" in out
        await heard_on(pair, calc, "eth1")

        edit(prime, "authkeys", "1 sha256", "#1 sha256")  # calc still signs with key 1
        result = prime.twinbeat("reload")
        assert result.returncode == 1
        assert "calc signs its frames with key 1, which the new authkeys no longer accepts" \
            in result.stderr
        edit(prime, "authkeys", "#1 sha256", "1 sha256")

        edit(calc, "authkeys", "auth 1", "auth 2")
        reload_ok(calc)
        for node in pair.nodes:
            edit(node, "authkeys", "1 sha256", "#1 sha256")
            assert "key 1 removed" in reload_ok(node)
        for node in pair.nodes:
            await heard_on(pair, node, "eth1")
            assert node.status()["peers"][0]["alive"]
            assert not node.status()["rejected_unattributed"].get("eth1")
        assert prime.holds() and not calc.holds()
        assert not any("is dead" in node.log.read() for node in pair.nodes)
