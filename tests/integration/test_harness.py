"""The lab harness's own rules (twinbeat.lab.harness, cable, procs), which every other
integration test relies on: only its own namespaces, only 198.18.0.0/15, no default route,
every process stopped by PID with the one stop policy, a teardown that always works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twinbeat.lab import network, procs
from twinbeat.lab.cable import Cable
from twinbeat.lab.errors import LabError
from twinbeat.lab.harness import Harness
from twinbeat.lab.network import Port

pytestmark = pytest.mark.root

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n",
]


def test_a_namespace_has_lo_up_and_no_route(harness: Harness) -> None:
    ns = harness.add_netns("a")
    assert ns == f"{harness.prefix}-a"
    assert harness.namespaces() == [ns]
    assert set(network.links(ns)) == {"lo"} and network.links(ns)["lo"].up
    assert network.default_routes(ns) == []
    with pytest.raises(LabError, match="already exists"):
        harness.add_netns("a")


def test_addresses_outside_the_lab_network_are_refused(harness: Harness) -> None:
    a, b = harness.add_netns("a"), harness.add_netns("b")
    for bad in ("10.0.0.1/24", "192.0.2.1/24", "198.20.0.1/24", "198.18.0.1"):
        with pytest.raises(LabError):
            harness.veth(Port(a, "x", bad), Port(b, "y"))
    assert set(network.links(a)) == {"lo"}  # refused before anything was made
    harness.veth(Port(a, "x", "198.19.255.1/24"), Port(b, "y"))  # the top of 198.18.0.0/15
    with pytest.raises(LabError):
        harness.add_address(a, "x", "203.0.113.7/24")
    assert [x.cidr for x in network.addresses(a, "x")] == ["198.19.255.1/24"]
    assert network.default_routes(a) == network.default_routes(b) == []


def test_only_its_own_namespaces(harness: Harness, tmp_path: Path) -> None:
    mine = harness.add_netns("a")
    with Harness.unique(tmp_path / "other", stem="tbt") as other:
        theirs = other.add_netns("a")
        for attempt in (
            lambda: harness.set_link(theirs, "lo", up=False),
            lambda: harness.veth(Port(mine, "x"), Port(theirs, "y")),
            lambda: harness.spawn("intruder", SLEEP, netns=theirs),
            lambda: harness.run(["true"], theirs),
        ):
            with pytest.raises(LabError, match="not created by"):
                attempt()
        harness.teardown()
        assert network.exists(theirs) and not network.exists(mine)
    assert not network.exists(theirs)


def test_a_namespace_made_again_by_someone_else_is_not_its_own(harness: Harness) -> None:
    ns = harness.add_netns("a")
    network.remove(ns)
    network.create(ns)  # same name, another namespace (someone else's now)
    try:
        assert not harness.owns(ns)
        assert harness.teardown().removed == []
        assert network.exists(ns)
    finally:
        network.remove(ns)


def test_teardown_stops_by_pid_with_the_policy_and_sweeps(harness: Harness) -> None:
    ns = harness.add_netns("a")
    polite = harness.spawn("polite", SLEEP, netns=ns)
    stubborn = harness.spawn("stubborn", STUBBORN, netns=ns, stdout=subprocess.PIPE, grace=0.5)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    # Started inside the namespace by something else (a resource script's daemon, say).
    stray = int(harness.run(["sh", "-c", "setsid sleep 60 >/dev/null 2>&1 & echo $!"], ns)
                .stdout)
    assert procs.alive(stray) and stray in network.pids_in(ns)

    started = time.monotonic()
    done = harness.teardown()
    took = time.monotonic() - started
    assert done.stopped == ["polite", "stubborn"]
    assert done.leftovers == {ns: 1}
    assert done.removed == [ns]
    assert polite.returncode == -signal.SIGTERM  # SIGTERM first ...
    assert stubborn.returncode == -signal.SIGKILL  # ... SIGKILL once its grace ran out
    assert 0.5 <= took < 0.5 + procs.KILL_WAIT + procs.GRACE
    assert not procs.alive(stray)
    assert harness.pids.items() == {} and harness.namespaces() == []
    again = harness.teardown()
    assert (again.stopped, again.leftovers, again.removed) == ([], {}, [])


def test_a_recycled_pid_is_never_signalled(harness: Harness) -> None:
    bystander = subprocess.Popen(SLEEP)  # not the harness's: a PID the kernel reused
    try:
        harness.pids.record("gone", bystander.pid)
        path = harness.pids.directory / "gone.pid"
        pid, started, grace = path.read_text().split()
        path.write_text(f"{pid} {int(started) - 1} {grace}\n")  # the one we started is gone
        assert harness.pid("gone") is None
        assert harness.signal("gone", signal.SIGKILL) is None
        assert harness.teardown().stopped == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_teardown_runs_when_the_body_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), Harness.unique(tmp_path / "h", stem="tbt") as harness:
        ns = harness.add_netns("a")
        process = harness.spawn("sleeper", SLEEP, netns=ns)
        raise RuntimeError("the test failed")
    assert not network.exists(ns)
    assert process.returncode == -signal.SIGTERM


def test_cable_pull_stops_socat_and_removes_its_links(harness: Harness, tmp_path: Path) -> None:
    ends = (tmp_path / "a.tty", tmp_path / "b.tty")
    cable = Cable(harness, ends, log=tmp_path / "cable.log")
    pid = cable.plug()
    assert cable.plugged and all(end.is_symlink() and end.exists() for end in ends)
    cable.pull()
    assert not cable.plugged and not procs.alive(pid)
    assert not any(end.is_symlink() for end in ends)  # no dangling /dev/pts links
    # A socat that died hard leaves its links dangling; plugging again replaces them.
    crashed = cable.plug()
    harness.signal(cable.label, signal.SIGKILL)
    assert procs.wait_gone([crashed], 2.0)
    assert all(end.is_symlink() for end in ends)
    cable.plug()
    assert cable.plugged and all(os.path.exists(end) for end in ends)
    cable.pull()
    assert not any(end.is_symlink() for end in ends)
