"""Pacemaker's and Corosync's own tools on exported files (imported by name; not a test module).

- `verify`: `crm_verify --xml-file`;
- `placement`: `crm_simulate --simulate --xml-file` on a CIB whose status section says which
  nodes are up (a `node_state` per online node, with its transient attributes, e.g. the ping
  agent's `pingd`), answering where each group runs afterwards;
- `configs`: every configuration of the repository, written into a directory each.

Everything runs on files: no cluster is started, nothing touches /var/lib/pacemaker.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from twinbeat.lab import plan as lp
from twinbeat.lab import render
from twinbeat.lab.fencing import FenceSetup

REPO = Path(__file__).resolve().parents[2]
TOOLS = ("crm_verify", "crm_simulate", "cibadmin", "corosync", "crm", "pcs")
SEED_HACF = """\
logfile /var/log/ha-log
logfacility local0
keepalive 2
deadtime 10
udpport 694
bcast eth0
serial /dev/ttyS0
baud 19200
node calc
node prime
auto_failback on
"""
SEED_AUTHKEYS = "auth 1\n1 md5 86e07a217fcd61fb981872ec57b68845\n"
SEED_HARESOURCES = "prime IPaddr::198.18.1.100/24/eth0 apache2\n"
# Everything the export maps, in one pair: two groups with different primaries, a classic
# name, an OCF agent, monitoring, ping nodes, fence agents with a head start, failback off.
FEATURES_HACF = """\
keepalive 1
deadtime 3
initdead 6
bcast eth1
ucast eth2 198.18.3.1
ucast eth2 198.18.3.2
serial /dev/ttyS0
node prime
node calc
auto_failback off
ping 198.18.1.254
ping_group lan 198.18.1.20 198.18.1.21
monitor_interval 7
migration_threshold 2
fence calc fence_dummy type=file
fence prime fence_dummy type=file
fence_delay 5
fence_action off
"""
FEATURES_HARESOURCES = """\
prime IPaddr::198.18.1.100/24/eth0 Filesystem::/dev/sdb1::/srv/www::ext4 apache2
calc 198.18.1.101 ocf:heartbeat:Dummy::fake=1
"""


HOST_DIRS = ("/etc/corosync", "/var/lib/pacemaker", "/var/lib/pacemaker/cib")


def host_state() -> dict[str, object]:
    """The host's cluster directories, and libqb's files in its /dev/shm: the tests must
    leave them as they were."""
    state: dict[str, object] = {d: (os.stat(d).st_mtime, sorted(os.listdir(d)))
                                for d in HOST_DIRS if os.path.isdir(d)}
    state["/dev/shm"] = sorted(n for n in os.listdir("/dev/shm") if n.startswith("qb-"))
    return state


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def run(argv: list[str], scratch: Path, timeout: float = 120.0,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A Pacemaker tool with `scratch` as its shadow directory: run as root, crm_simulate
    writes its working copy (`shadow.PID`) into /var/lib/pacemaker/cib unless
    CIB_shadow_dir says otherwise, and the host's must stay untouched."""
    env = dict(os.environ if env is None else env, CIB_shadow_dir=str(scratch))
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          env=env)


def verify(cib: Path, online: dict[str, dict[str, str]] | None = None,
           verbose: bool = False) -> subprocess.CompletedProcess[str]:
    """`crm_verify --xml-file` on the CIB as is, or (`online`) as a running cluster's CIB
    would be: these nodes members, quorum held. With fencing on, the bare file makes
    crm_verify warn that the nodes it has never seen are unclean and would be fenced at
    start-up (startup-fencing): true of the cluster's state, not of the configuration."""
    if online is not None:
        staged = cib.with_name(cib.name + ".live.xml")
        staged.write_text(with_online(cib.read_text(), online))
        cib = staged
    return run(["crm_verify", *(["-V"] if verbose else []), "--xml-file", str(cib)], cib.parent)


def with_online(cib_text: str, online: dict[str, dict[str, str]]) -> str:
    """The CIB as a running cluster's would be: exactly `online` nodes up (each with these
    transient attributes), quorum held (corosync's two_node keeps it for one survivor)."""
    root = ET.fromstring(cib_text)
    root.set("have-quorum", "1")
    ids = {n.get("uname"): n.get("id") for n in root.iterfind("configuration/nodes/node")}
    status = root.find("status")
    assert status is not None
    for old_state in list(status):
        if old_state.get("uname") not in online:
            status.remove(old_state)
    for name, attrs in online.items():
        found = [s for s in status if s.get("uname") == name]
        state = found[0] if found else ET.SubElement(status, "node_state", id=str(ids[name]),
                                                     uname=name)
        state.attrib.update(in_ccm="true", crmd="online", join="member", expected="member")
        for old in state.findall("transient_attributes"):
            state.remove(old)
        if attrs:
            transient = ET.SubElement(state, "transient_attributes", id=str(ids[name]))
            pairs = ET.SubElement(transient, "instance_attributes", id=f"status-{ids[name]}")
            for key, value in attrs.items():
                ET.SubElement(pairs, "nvpair", id=f"status-{ids[name]}-{key}", name=key,
                              value=value)
    return ET.tostring(root, encoding="unicode")


def placement(cib: Path, online: dict[str, dict[str, str]],
              save: Path | None = None) -> dict[str, set[str]]:
    """Group id -> the nodes its members run on after the simulated transition."""
    staged = cib.with_name(cib.name + ".online.xml")
    staged.write_text(with_online(cib.read_text(), online))
    argv = ["crm_simulate", "--xml-file", str(staged), "--simulate", "--output-as=xml"]
    if save is not None:
        argv += ["--save-output", str(save)]
    done = run(argv, cib.parent)
    assert done.returncode == 0, done.stderr + done.stdout
    revised = ET.fromstring(done.stdout).find("revised_cluster_status/resources")
    assert revised is not None, done.stdout
    return {group.get("id", ""): {node.get("name", "") for node in group.iter("node")}
            for group in revised.iterfind("group")}


def groups_of(cib: Path) -> dict[str, str]:
    """Group id -> its preferred node, from the CIB's own location constraints."""
    root = ET.parse(cib).getroot()
    groups = {g.get("id", "") for g in root.iterfind("configuration/resources/group")}
    return {loc.get("rsc", ""): loc.get("node", "")
            for loc in root.iterfind("configuration/constraints/rsc_location")
            if loc.get("rsc") in groups and int(loc.get("score", "0")) > 0}


def _write(directory: Path, hacf: str, authkeys: str, haresources: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "ha.cf").write_text(hacf)
    (directory / "authkeys").write_text(authkeys)
    os.chmod(directory / "authkeys", 0o600)
    (directory / "haresources").write_text(haresources)
    return directory


def _howto() -> tuple[str, str, str]:
    """The config tests' how-to fixture (tests/unit/config/config_helpers.py)."""
    path = REPO / "tests" / "unit" / "config" / "config_helpers.py"
    spec = importlib.util.spec_from_file_location("export_config_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.HOWTO_HACF, module.HOWTO_AUTHKEYS, module.HOWTO_HARESOURCES


def configs(root: Path) -> dict[str, Path]:
    """Every configuration of the repository: name -> its config dir (export as `prime`)."""
    found: dict[str, Path] = {}
    example = root / "etc-ha.d"
    shutil.copytree(REPO / "etc" / "ha.d", example)
    os.chmod(example / "authkeys", 0o600)
    found["etc/ha.d"] = example
    found["seed"] = _write(root / "seed", SEED_HACF, SEED_AUTHKEYS, SEED_HARESOURCES)
    found["howto fixture"] = _write(root / "howto", *_howto())
    found["features"] = _write(root / "features", FEATURES_HACF, SEED_AUTHKEYS,
                               FEATURES_HARESOURCES)
    for preset in lp.PRESETS:
        for fencing in ("none", "agent", "stonith"):
            plan = lp.Plan.make("tbx", root / f"lab-{preset}-{fencing}", preset)
            lines = "" if fencing == "none" else FenceSetup(fencing).hacf_lines(
                plan.run_dir, "lab-password")
            render.write_all(plan, fencing=lines)
            found[f"lab {preset} fencing={fencing}"] = plan.files("prime").config_dir
    return found
