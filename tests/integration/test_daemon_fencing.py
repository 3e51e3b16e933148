"""The composition root's fencing wiring: FencePeer runs the fence driver as its own task and
its one answer reaches the core's inbox; `fence-ack` is checked before the core sees it; the
status document carries the devices. Real cluster-glue (`stonith -t null`), no namespaces.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from twinbeat.config import load
from twinbeat.core import events as ev
from twinbeat.daemon.root import Daemon
from twinbeat.engine import Engine

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not os.path.exists("/usr/sbin/stonith"),
                                 reason="needs cluster-glue (scripts/install-deps)")]


def make_daemon(tmp_path: Path, fencing: str) -> Daemon:
    (tmp_path / "ha.cf").write_text("bcast eth1\nnode prime\nnode calc\n" + fencing)
    authkeys = tmp_path / "authkeys"
    authkeys.write_text("auth 1\n1 sha256 " + "ab" * 32 + "\n")
    os.chmod(authkeys, 0o600)
    (tmp_path / "haresources").write_text("prime 198.18.1.100\n")
    return Daemon(load(str(tmp_path), node="prime"), generation=1, run_dir=str(tmp_path / "run"))


async def test_fence_peer_runs_as_a_task_and_its_answer_reaches_the_core(tmp_path: Path,
                                                                         nursery) -> None:
    daemon = make_daemon(tmp_path, "stonith_host prime null calc\nfence_timeout 20\n")
    daemon._nursery = nursery
    daemon.engine = Engine.from_config(daemon.config, 1, trio.current_time())
    assert daemon.engine.params.fencing is True
    daemon._execute(ev.FencePeer("calc"))  # returns at once: the fence is a task
    with trio.fail_after(20):
        while not len(daemon.events_in):
            await trio.sleep(0.05)
    [(event, _)] = daemon.events_in.take(10)
    assert event == ev.PeerFenced("calc")
    [device] = daemon.status()["fence_devices"]
    assert (device["device"], device["fenced"], device["failed"]) == (
        "stonith_host prime null (ha.cf:4)", 1, 0)


async def test_no_fencing_for_this_node_means_no_devices(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path, "stonith_host calc null prime\n")
    daemon.engine = Engine.from_config(daemon.config, 1, 0.0)
    assert daemon.fencer.devices == []
    assert daemon.engine.params.fencing is False
    assert "fence_devices" not in daemon.status()


async def test_fence_ack_is_refused_before_the_core_when_it_means_nothing(tmp_path: Path,
                                                                          nursery) -> None:
    daemon = make_daemon(tmp_path, "stonith_host prime null calc\n")
    daemon._nursery = nursery
    daemon.engine = Engine.from_config(daemon.config, 1, trio.current_time())
    reply = await daemon.fence_ack("dana")
    assert reply == {"ok": False, "error": "fence-ack refused: dana is not this node's peer "
                                           "(calc)"}
    if daemon.engine.snapshot().fencing is None:  # the core has no fencing state to settle
        assert await daemon.fence_ack("calc") == {
            "ok": False, "error": "fence-ack refused: no fencing configured for this node: "
                                  "nothing waits for a fence"}
    assert not len(daemon.events_in)
