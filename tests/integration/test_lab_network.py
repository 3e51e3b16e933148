"""The lab's infrastructure without daemons: namespaces, links, cable, apache2, poller, down."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import termios
import time
import tty

import pytest
from lab_fixtures import running_lab, unique_name
from pyroute2 import IPRoute

from twinbeat.lab import network, procs
from twinbeat.lab import plan as lp
from twinbeat.lab.lab import Lab, LabError

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab():
    with running_lab() as lab:
        yield lab


def test_namespaces_and_addresses(lab: Lab) -> None:
    for role in lp.ROLES:
        assert network.exists(lab.netns(role))
    assert lab.harness.namespaces() == sorted(lab.netns(role) for role in lp.ROLES)
    for role, address in lp.LAN_ADDR.items():
        links = network.links(lab.netns(role))
        assert links["lo"].up
        assert links["eth0"].up
        assert [a.cidr for a in links["eth0"].addresses] == [f"{address}/24"]
    for node in lp.NODES:
        links = network.links(lab.netns(node))
        assert [a.cidr for a in links["eth1"].addresses] == [f"{lp.HB_ADDR[node]}/24"]
        assert set(links) == {"lo", "eth0", "eth1"}
    lan = network.links(lab.netns("lan"))
    assert lan["br0"].kind == "bridge"
    for role in lp.LAN_ADDR:
        assert lan[role].master == lan["br0"].index
        assert lan[role].up


def test_no_default_route_anywhere(lab: Lab) -> None:
    for role in lp.ROLES:
        assert network.default_routes(lab.netns(role)) == []


def test_nothing_in_the_root_namespace() -> None:
    with IPRoute() as route:
        names = {link.get("ifname") for link in route.get_links()}
    assert not {n for n in names if n and n.startswith("tbl")}


def test_lan_and_dedicated_nic_carry_traffic(lab: Lab) -> None:
    # A UDP datagram from prime to calc over eth1, and over the bridge from the client.
    receiver = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.bind(('0.0.0.0', 7000)); s.settimeout(5)\n"
        "for _ in range(2):\n"
        "    data, addr = s.recvfrom(100); print(addr[0], data.decode())\n"
    )
    listener = lab.harness.spawn(
        "listener", [sys.executable, "-c", receiver], netns=lab.netns("calc"),
        stdout=subprocess.PIPE,
    )
    try:
        time.sleep(0.3)
        for role, target in (("prime", lp.HB_ADDR["calc"]), ("client", lp.LAN_ADDR["calc"])):
            sent = lab.harness.python(
                lab.netns(role),
                "import socket\n"
                "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                f"s.sendto(b'{role}', ('{target}', 7000))\n",
            )
            assert sent.returncode == 0, sent.stderr
        out, _ = listener.communicate(timeout=10)
    finally:
        lab.harness.stop("listener")
    assert out.decode().split("\n")[:2] == ["198.18.2.1 prime", "198.18.1.10 client"]


def test_client_cannot_reach_outside(lab: Lab) -> None:
    result = lab.harness.python(
        lab.netns("client"),
        "import socket\n"
        "s = socket.socket(); s.settimeout(1)\n"
        "try:\n"
        "    s.connect(('192.0.2.1', 80))\n"
        "except OSError as e:\n"
        "    print(e.errno)\n",
    )
    assert result.stdout.strip() == "101"  # ENETUNREACH: no default route


def test_cable_passes_bytes_both_ways(lab: Lab) -> None:
    fds = {}
    try:
        for node in lp.NODES:
            fd = os.open(lab.plan.tty(node), os.O_RDWR | os.O_NOCTTY)
            tty.setraw(fd)
            termios.tcflush(fd, termios.TCIOFLUSH)
            fds[node] = fd
        for src, dst in (("prime", "calc"), ("calc", "prime")):
            payload = bytes(range(256)) + src.encode()
            os.write(fds[src], payload)
            got = b""
            deadline = time.monotonic() + 5
            while len(got) < len(payload) and time.monotonic() < deadline:
                got += os.read(fds[dst], 4096)
            assert got == payload
    finally:
        for fd in fds.values():
            os.close(fd)


def test_apache_via_resource_script(lab: Lab) -> None:
    for node in lp.NODES:
        assert lab.apache(node, "status").stdout.strip() == "stopped"
        assert lab.apache(node, "status").returncode == 3
        started = lab.apache(node, "start")
        assert started.returncode == 0, started.stderr
        assert lab.apache(node, "status").stdout.strip() == "running"
        assert lab.apache(node, "start").returncode == 0  # already running
        assert lab.get(lp.LAN_ADDR[node]) == node
        pid = lab.apache_pid(node)
        assert pid is not None
        assert lab.apache(node, "stop").returncode == 0
        assert not procs.alive(pid)
        assert lab.apache(node, "stop").returncode == 0  # already stopped
        assert lab.apache(node, "status").stdout.strip() == "stopped"
        assert lab.get(lp.LAN_ADDR[node], timeout=0.5) is None


def test_resource_script_ignores_a_stale_pid_file(lab: Lab) -> None:
    pidfile = lab.plan.apache_pidfile("calc")
    pidfile.write_text(f"{os.getpid()}\n")  # a live process that is not apache2
    try:
        assert lab.apache("calc", "status").stdout.strip() == "stopped"
        assert lab.apache("calc", "stop").returncode == 0
    finally:
        pidfile.unlink(missing_ok=True)


def _set_vip(lab: Lab, node: str, present: bool) -> None:
    change = lab.harness.add_address if present else lab.harness.del_address
    change(lab.netns(node), "eth0", f"{lp.VIP}/24")


def test_poller_sees_the_vip_move(lab: Lab) -> None:
    for node in lp.NODES:
        assert lab.apache(node, "start").returncode == 0
    poller = lab.poller(interval=0.005)
    try:
        _set_vip(lab, "prime", True)
        assert poller.first("prime", after=0, timeout=5) is not None
        moved = time.monotonic()
        _set_vip(lab, "prime", False)
        _set_vip(lab, "calc", True)
        # No GARP here (that is the daemon's job): forget the client's neighbour entry.
        lab.harness.forget_neighbour(lab.netns("client"), "eth0", lp.VIP)
        seen = poller.first("calc", after=moved, timeout=5)
        assert seen is not None
        assert seen >= moved
    finally:
        poller.close()
        _set_vip(lab, "calc", False)
        for node in lp.NODES:
            lab.apache(node, "stop")


def test_power_loss_kills_everything_in_the_node(lab: Lab) -> None:
    assert lab.apache("prime", "start").returncode == 0
    apache = lab.apache_pid("prime")
    lab.power_loss("prime")
    assert network.pids_in(lab.netns("prime")) == []
    assert apache is not None and not procs.alive(apache)
    assert not lab.cable.plugged
    assert not any(end.exists() for end in lab.cable.ends)  # no dangling pty links
    assert not network.links(lab.netns("prime"))["eth0"].up
    lab.power_on("prime", daemon=False)
    assert lab.cable.plugged
    assert network.links(lab.netns("prime"))["eth1"].up
    assert lab.apache("prime", "status").stdout.strip() == "stopped"  # stale pid file


def test_up_twice_is_refused(lab: Lab) -> None:
    again = Lab.make(lab.name)
    with pytest.raises(LabError, match="already up"):
        again.up(daemons=False)
    assert network.exists(lab.netns("lan"))  # the refusal did not tear the lab down


def test_down_removes_everything_and_is_idempotent() -> None:
    lab = Lab.make(unique_name())
    try:
        lab.up(daemons=False)
        assert lab.apache("prime", "start").returncode == 0
        apache = lab.apache_pid("prime")
        cable = lab.harness.pid("cable")
        assert apache is not None and cable is not None
        lab.down()
        for role in lp.ROLES:
            assert not network.exists(lab.netns(role))
        assert not procs.alive(apache)
        assert not procs.alive(cable)
        assert not lab.plan.tty("prime").exists()
        assert lab.harness.pids.items() == {}
        assert lab.harness.namespaces() == []
        assert lab.down() == []
        assert Lab.make(lab.name).down() == []  # and from a fresh object, as the CLI does
    finally:
        lab.down(purge=True)


def test_down_after_a_crash_stops_untracked_processes() -> None:
    lab = Lab.make(unique_name())
    try:
        lab.up(daemons=False)
        # A process in a lab namespace whose pid file was lost (e.g. the lab tool crashed).
        stray = lab.apache("calc", "start")
        assert stray.returncode == 0
        lab.plan.apache_pidfile("calc").unlink()
        cable = lab.harness.pid("cable")
        lab.harness.pids.forget("cable")  # its pid file lost
        shutil.rmtree(lab.plan.run_dir / "netns")  # and the records of the namespaces
        assert network.pids_in(lab.netns("calc"))
        Lab.make(lab.name).down()  # a fresh object, as `twinbeat lab down` after a crash
        assert not network.exists(lab.netns("calc"))
        assert cable is not None and not procs.alive(cable)  # found in the lan namespace
    finally:
        lab.down(purge=True)


def test_bad_names_and_presets_are_refused() -> None:
    with pytest.raises(LabError):
        Lab.make("much-too-long-name")
    with pytest.raises(LabError):
        Lab.make("a b")
    with pytest.raises(LabError, match="preset"):
        Lab.make("tbl", preset="turbo")


def test_non_root_gets_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="root"):
        Lab.make(unique_name()).up()


def test_missing_apache_gets_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lp, "APACHE_BIN", "/nonexistent/apache2")
    with pytest.raises(LabError, match=r"apache2 not found; install Debian's apache2 package"):
        Lab.make(unique_name()).up()
