"""`twinbeat run` refuses to start on a broken setup: exit 1 and a message naming the cause."""

from __future__ import annotations

import os

import pytest
import trio
from pair import ADDRESSES, IFACE, DummyNode

from twinbeat.lab.network import Port

pytestmark = pytest.mark.root

GUARD = 60


def node(harness, tmp_path, **config):
    """prime alone (its peer never runs), otherwise a valid config: only `config` is wrong."""
    ns = harness.add_netns("p")
    harness.veth(Port(ns, IFACE, f"{ADDRESSES['prime']}/24"), Port(harness.add_netns("c"), IFACE))
    daemon = DummyNode(harness, "prime", ns, tmp_path / "prime")
    daemon.write_config(**config)
    return daemon


def errors(result):
    """stderr without the config's own warnings (initdead is short in every test config)."""
    return [line for line in result.stderr.splitlines() if "is short" not in line]


async def test_authkeys_readable_by_others_is_refused(harness, tmp_path):
    with trio.fail_after(GUARD):
        daemon = node(harness, tmp_path, authkeys_mode=0o644)
        result = daemon.run_to_exit()
    assert result.returncode == 1
    authkeys = str(daemon.files.config_dir / "authkeys")
    naming = [line for line in errors(result) if authkeys in line]
    assert len(naming) == 1, result.stderr
    assert "0644" in naming[0]
    assert not (daemon.files.run_dir / "control.sock").exists()
    assert "links open" not in result.stderr


async def test_bad_ha_cf_is_refused_with_path_and_line(harness, tmp_path):
    with trio.fail_after(GUARD):
        daemon = node(harness, tmp_path, extra_hacf="keepalive banana\n")
        ha_cf = daemon.files.config_dir / "ha.cf"
        line = len(ha_cf.read_text().splitlines())
        result = daemon.run_to_exit()
    assert result.returncode == 1
    assert any(text.startswith(f"{ha_cf}:{line}:") for text in errors(result)), result.stderr
    assert "not started" in result.stderr
    assert not (daemon.files.run_dir / "control.sock").exists()


async def test_second_daemon_with_the_same_run_dir_is_refused(harness, tmp_path):
    with trio.fail_after(GUARD):
        daemon = node(harness, tmp_path)
        daemon.start(wait=False)
        while "twinbeat: links open" not in daemon.log.read():
            assert daemon.running(), daemon.log.tail()
            await trio.sleep(0.05)
        result = await trio.to_thread.run_sync(daemon.run_to_exit)
        assert result.returncode == 1, result.stderr
        assert "another twinbeat daemon is running" in result.stderr
        assert str(daemon.files.run_dir / "control.sock") in result.stderr
        # The first daemon is untouched and still answers on its socket.
        assert daemon.running()
        assert os.path.exists(daemon.files.run_dir / "control.sock")
        status = daemon.status()
        assert status is not None and status["node"] == "prime"
        # Refused before doing anything: the running daemon's generation and log are untouched.
        assert (daemon.files.state_dir / "generation").read_text() == f"{status['generation']}\n"
        assert (tmp_path / "prime" / "ha-log").read_text().count("twinbeat starting") == 1
