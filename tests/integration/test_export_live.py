"""The exported configuration run by a real two-node Corosync + Pacemaker in the lab (issue #15).

Each node is the lab's network namespace plus a PID, mount and UTS namespace of its own
(`unshare`), whose first process mounts private tmpfs over /etc/corosync, /var/lib/pacemaker,
/var/lib/corosync, /var/log/pacemaker, /var/log/corosync, /dev/shm and /run, sets the host
name to the node's, and starts `corosync -f` and `pacemakerd -f` with the exported
corosync.conf and cib.xml. Nothing of the host's cluster directories is touched (checked).

The group is the lab's VIP alone (`prime IPaddr::198.18.1.100/24/eth0`); a small HTTP server
runs on each node, as in the README's "vip" group shape, so the client's GET says which node
holds the VIP. The one change to the exported files: Corosync logs to stderr (there is no
syslog in a namespace), kept in the test's directory with Pacemaker's log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from export_tools import host_state, missing_tools
from lab_fixtures import running_lab

from twinbeat.cli import main
from twinbeat.lab import plan as lp
from twinbeat.lab.lab import Lab

pytestmark = [
    pytest.mark.root, pytest.mark.slow,
    pytest.mark.skipif(bool(missing_tools()), reason=f"missing {missing_tools()}"),
]
PRIVATE = ("/etc/corosync", "/var/lib/pacemaker", "/var/lib/corosync", "/var/log/pacemaker",
           "/var/log/corosync", "/dev/shm", "/run")
# PID 1 of the node's namespaces: private directories, then the two daemons, then wait.
NODE = """\
set -e
node=$1; dir=$2
hostname "$node"
mount --make-rprivate /
for d in {private}; do mount -t tmpfs -o mode=0755 "tb-$node" "$d"; done
chmod 1777 /dev/shm
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox \\
         /var/lib/pacemaker/cores /run/crm /run/resource-agents
cp "$dir/corosync.conf" /etc/corosync/corosync.conf
install -m 0400 "$dir/authkey" /etc/corosync/authkey
install -m 0600 "$dir/cib.xml" /var/lib/pacemaker/cib/cib.xml
chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker /run/crm
chmod 0750 /var/lib/pacemaker/cib
log="$dir/pacemaker-$node.log"; touch "$log"; chown hacluster:haclient "$log"
corosync -f > "$dir/corosync-$node.log" 2>&1 &
PCMK_logfile="$log" pacemakerd -f > "$dir/pacemakerd-$node.out" 2>&1 &
wait
""".format(private=" ".join(PRIVATE))


def wait_for(what: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until `what()` held, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if what():
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def export(lab: Lab, out: Path) -> None:
    config_dir = lab.plan.files("prime").config_dir
    assert main(["export", "pacemaker", "--config-dir", str(config_dir), "--node", "prime",
                 "--output", str(out), "--address", f"prime={lp.HB_ADDR['prime']}",
                 "--address", f"calc={lp.HB_ADDR['calc']}"]) == 0
    (out / "authkey").write_bytes(os.urandom(256))  # what corosync-keygen makes
    conf = out / "corosync.conf"
    conf.write_text(conf.read_text().replace("to_syslog: yes",
                                             "to_syslog: no\n    to_stderr: yes"))
    os.chmod(out, 0o755)


def start_node(lab: Lab, node: str, out: Path) -> None:
    lab.harness.spawn(f"{node}-cluster", [
        "unshare", "--uts", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
        "sh", "-c", NODE, "node", node, str(out)], netns=lab.netns(node),
        log=out / f"{node}-launcher.log")
    htdocs = lab.plan.apache_dir(node) / "htdocs"
    lab.harness.spawn(f"{node}-web", [sys.executable, "-m", "http.server", "80", "--bind",
                                      "0.0.0.0", "--directory", str(htdocs)],
                      netns=lab.netns(node), log=out / f"{node}-web.log")


def crm_mon(lab: Lab, node: str) -> str:
    """`crm_mon -1` as the admin runs it on `node` (inside that node's namespaces)."""
    unshare = lab.harness.pid(f"{node}-cluster")
    assert unshare is not None
    first = Path(f"/proc/{unshare}/task/{unshare}/children").read_text().split()[0]
    done = subprocess.run(["nsenter", "-t", first, "-m", "-n", "-u", "-p", "crm_mon", "-1"],
                          capture_output=True, text=True, timeout=30, check=False)
    return done.stdout + done.stderr


def logs(out: Path) -> str:
    return "\n".join(f"== {p.name}\n" + p.read_text()[-3000:] for p in sorted(out.glob("*.log")))


def test_the_exported_cluster_serves_the_vip_and_moves_it_on_power_loss(tmp_path: Path) -> None:
    before = host_state()
    out = tmp_path / "pacemaker"
    with running_lab("lab", daemons=False, apache_in_group=False) as lab:
        export(lab, out)
        for node in lp.NODES:
            start_node(lab, node, out)
        assert wait_for(lambda: lab.get() == "prime", 90) is not None, logs(out)
        status = crm_mon(lab, "calc")
        assert "Online: [ calc prime ]" in status and "Started prime" in status, status
        lab.power_loss("prime")
        moved = wait_for(lambda: lab.get(timeout=0.5) == "calc", 30)
        assert moved is not None, logs(out)
        assert "Started calc" in crm_mon(lab, "calc")
        print(f"power loss -> calc serves the VIP after {moved:.1f} s "
              f"(token {lab.plan.timers.deadtime_s * 1000:.0f} ms + consensus)")
    assert host_state() == before
