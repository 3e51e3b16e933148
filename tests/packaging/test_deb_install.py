"""`apt install ./twinbeat_*.deb` on a clean Debian 12, under that Debian's own systemd.

The machine is a debootstrapped Debian 12 (debian12.py) booted as PID 1 of namespaces of the
test's own (nsboot.py, nsroots.TreeRoot), in a network namespace with one veth: the package's
maintainer scripts run with a live systemd, as on a real node, and nothing reaches the host
(the tree is a temporary directory, removed at the end; the package is never installed on
the host). The tests run in file order, as an admin would: install with an empty /etc/ha.d,
check the examples, verify the unit, configure and start a one-node cluster, reinstall over
it, remove, purge.

Skipped, with the reason, where no systemd can boot, debootstrap is missing, no Debian mirror
answers, or the package cannot be built (conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "systemd"))
import debian12
from nsboot import BootedSystemd, booted, cannot_boot_reason
from nsroots import TreeRoot

from twinbeat.lab import network
from twinbeat.lab.harness import Harness
from twinbeat.lab.network import Port

pytestmark = [pytest.mark.root, pytest.mark.slow]

UNIT = "twinbeat.service"
HA_D = "/etc/ha.d"
NODE = "solo"  # the machine's host name: a one-node cluster (docs/config.md, "Nodes")
IFACE = "eth1"
VIP = "198.18.77.100"
METRICS_PORT = 9694
HA_CF = f"""# A one-node cluster on the test's veth (the lab's address plan: 198.18.0.0/15).
node {NODE}
bcast {IFACE}
keepalive 100ms
deadtime 1
warntime 500ms
initdead 2
auto_failback on
metrics 198.18.77.1:{METRICS_PORT}
"""
HARESOURCES = f"{NODE} IPaddr::{VIP}/24/{IFACE}\n"


@dataclass
class Machine:
    systemd: BootedSystemd
    harness: Harness
    netns: str
    wire: str  # the namespace at the other end of the veth
    deb: str  # the .deb's path inside the machine
    install: subprocess.CompletedProcess[str]

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.systemd.run(argv, check=check, env=debian12.APT_ENV, timeout=600)

    def show(self, *props: str) -> dict[str, str]:
        return self.systemd.show(UNIT, *props)

    def vip_here(self) -> bool:
        return f"{VIP}/24" in [a.cidr for a in network.addresses(self.netns, IFACE)]

    def etc_ha_d(self) -> dict[str, tuple[int, str]]:
        """/etc/ha.d's files: name -> (mode, sha256), to show it was left alone."""
        top = self.systemd.path(HA_D)
        return {
            str(p.relative_to(top)): (p.stat().st_mode, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(top.rglob("*"))
        }

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"not within {timeout} s: {what}\n{self.systemd.journal(UNIT)}")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def machine(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    for reason in (cannot_boot_reason(), debian12.cannot_bootstrap_reason()):
        if reason is not None:
            pytest.skip(f"no clean Debian 12 here: {reason}")
    work = tmp_path_factory.mktemp("debian12")
    tree = work / "tree"
    tree.mkdir()
    try:
        debian12.bootstrap(tree, work / "bootstrap.log")
        inside = debian12.prefetch(tree, deb, work / "bootstrap.log")
        (tree / HA_D.lstrip("/")).mkdir()  # an empty /etc/ha.d: the package must leave it so
        with Harness.unique(work / "harness", stem="tbdeb") as harness:
            node = harness.add_netns("node")
            wire = harness.add_netns("wire")
            harness.veth(Port(node, IFACE, "198.18.77.1/24"), Port(wire, IFACE, "198.18.77.2/24"))
            (work / "systemd").mkdir()
            systemd = BootedSystemd(
                work / "systemd", node, hostname=NODE, units={}, files={}, root=TreeRoot(tree)
            )
            with booted(systemd):
                install = systemd.run(
                    ["apt-get", "install", "-y", str(inside)],
                    check=False,
                    env=debian12.APT_ENV,
                    timeout=600,
                )
                yield Machine(systemd, harness, node, wire, str(inside), install)
    finally:
        debian12.remove(tree)


def test_apt_install_works_on_a_clean_debian_12(machine: Machine) -> None:
    install = machine.install
    assert install.returncode == 0, install.stdout + install.stderr
    assert "Setting up twinbeat (" in install.stdout
    assert machine.run("cat", "/etc/debian_version").stdout.startswith("12.")
    # Python packages from Debian where its versions fit; the others are bundled.
    query = machine.run("dpkg-query", "-W", "-f=${Package} ${Status}\\n", check=False).stdout
    installed = {line.split()[0] for line in query.splitlines() if line.endswith(" installed")}
    assert {"twinbeat", "python3-serial", "python3-idna", "python3-prometheus-client"} <= installed
    assert not {"python3-trio", "python3-pyroute2", "python3-cffi-backend"} & installed


def test_install_leaves_the_unit_disabled_and_an_empty_etc_ha_d_alone(machine: Machine) -> None:
    assert "not starting it" in machine.install.stderr + machine.install.stdout
    assert machine.run("systemctl", "is-enabled", UNIT, check=False).stdout.strip() == "disabled"
    shown = machine.show("ActiveState", "MainPID", "NRestarts", "LoadState")
    assert shown == {"ActiveState": "inactive", "MainPID": "0", "NRestarts": "0",
                     "LoadState": "loaded"}  # fmt: skip
    assert machine.etc_ha_d() == {}
    # Even a start by hand does not run a half-configured daemon (ConditionPathExists=).
    ha_cf = machine.systemd.path(f"{HA_D}/ha.cf")
    ha_cf.write_text(HA_CF)
    try:
        machine.run("systemctl", "start", UNIT)
        shown = machine.show("ActiveState", "ConditionResult", "MainPID")
        assert shown == {"ActiveState": "inactive", "ConditionResult": "no", "MainPID": "0"}
    finally:
        ha_cf.unlink()


def test_twinbeat_check_accepts_the_packaged_examples(machine: Machine) -> None:
    examples = "/usr/share/doc/twinbeat/examples"
    check = machine.run("twinbeat", "check", "--config-dir", examples, "--node", "prime")
    assert "configuration OK for node prime" in check.stdout
    # The example's apache2 is not installed on this clean machine: a warning, not an error.
    assert "apache2: not found on this machine" in check.stderr


def test_systemd_analyze_verify_accepts_the_installed_unit(machine: Machine) -> None:
    verify = machine.run("systemd-analyze", "verify", UNIT, check=False)
    # Its man pages too: Documentation=man:twinbeat(8) man:twinbeat-ha.cf(5) resolve.
    assert (verify.returncode, verify.stdout, verify.stderr) == (0, "", "")
    assert machine.run("man", "-w", "8", "twinbeat").stdout.strip().endswith("twinbeat.8.gz")
    assert machine.run("man", "-w", "5", "twinbeat-ha.cf").stdout.strip().endswith(".5.gz")


def test_the_packaged_service_runs_once_configured(machine: Machine) -> None:
    machine.systemd.path(f"{HA_D}/ha.cf").write_text(HA_CF)
    machine.systemd.path(f"{HA_D}/haresources").write_text(HARESOURCES)
    machine.run("twinbeat", "keygen", f"{HA_D}/authkeys")
    machine.run("twinbeat", "check")
    machine.run("systemctl", "enable", "--now", UNIT)  # Type=notify: returns after READY=1
    assert machine.show("ActiveState", "SubState") == {"ActiveState": "active",
                                                       "SubState": "running"}  # fmt: skip
    machine.wait_for("the node holds its group", machine.vip_here, 30)
    status = json.loads(machine.run("twinbeat", "status", "--json").stdout)
    assert status["node"] == NODE
    assert [group["holder"] for group in status["groups"]] == [NODE]
    # The metrics endpoint, served through Debian 12's prometheus_client, scraped from the
    # other end of the veth.
    scrape = machine.harness.python(
        machine.wire,
        "import sys, urllib.request\n"
        "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())",
        f"http://198.18.77.1:{METRICS_PORT}/metrics",
    )
    assert scrape.returncode == 0, scrape.stderr + machine.systemd.journal(UNIT)
    assert "twinbeat_group_holder_is_self{" in scrape.stdout
    assert "twinbeat_healthy " in scrape.stdout


def test_reinstalling_over_a_running_daemon_does_not_restart_it(machine: Machine) -> None:
    # What an upgrade does to the maintainer scripts (prerm upgrade, postinst configure):
    # the running daemon keeps running (docs/install.md, "Upgrading").
    before = machine.show("MainPID", "NRestarts", "ExecMainStartTimestampMonotonic")
    machine.run("apt-get", "install", "-y", "--reinstall", machine.deb)
    assert machine.show("MainPID", "NRestarts", "ExecMainStartTimestampMonotonic") == before
    assert machine.show("ActiveState")["ActiveState"] == "active"
    assert machine.vip_here()


def test_removal_stops_the_service_and_leaves_etc_ha_d_alone(machine: Machine) -> None:
    assert machine.vip_here()
    configured = machine.etc_ha_d()
    assert set(configured) == {"ha.cf", "authkeys", "haresources"}
    machine.run("apt-get", "remove", "-y", "twinbeat")
    # Stopped by the prerm: SIGTERM, so the daemon released its group (the VIP is gone).
    assert machine.show("ActiveState")["ActiveState"] == "inactive"
    assert not machine.vip_here()
    assert not machine.systemd.path("/usr/bin/twinbeat").exists()
    assert machine.etc_ha_d() == configured
    assert machine.systemd.path("/etc/systemd/system/multi-user.target.wants/twinbeat.service")\
        .is_symlink()  # the admin's `enable`, kept until purge  # fmt: skip
    machine.run("apt-get", "purge", "-y", "twinbeat")
    assert machine.etc_ha_d() == configured
    assert not machine.systemd.path("/usr/lib/twinbeat").exists()
    assert not machine.systemd.path("/etc/systemd/system/multi-user.target.wants/twinbeat.service")\
        .is_symlink()  # fmt: skip
    status = machine.run("dpkg-query", "-W", "-f=${Status}", "twinbeat", check=False)
    assert status.returncode != 0 or "not-installed" in status.stdout

