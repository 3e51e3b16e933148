"""`twinbeat export pacemaker` judged by Pacemaker's and Corosync's own tools (issue #15).

- every configuration of the repository (etc/ha.d, each lab preset with each kind of fencing,
  the config tests' how-to fixture, the seed's `prime IPaddr::... apache2`, and one pair with
  every mapped feature) exports to a CIB that `crm_verify` accepts;
- `crm_simulate` places each group on its preferred node with both nodes up, and on the other
  node with the preferred one down; auto_failback on brings it back, off leaves it;
- the crmsh and pcs forms, loaded into an empty CIB by crmsh and pcs themselves, place the
  groups the same way;
- `corosync -t` accepts corosync.conf, run in the nodes' network namespaces (it needs its
  own address to be local) with a private /etc/corosync for the authkey.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from export_tools import (
    FEATURES_HACF,
    configs,
    groups_of,
    host_state,
    missing_tools,
    placement,
    run,
    verify,
)

from twinbeat.cli import main
from twinbeat.lab.harness import Harness
from twinbeat.lab.network import Port

pytestmark = [
    pytest.mark.skipif(bool(missing_tools()), reason=f"missing {missing_tools()} "
                       "(scripts/install-deps installs pacemaker, corosync, crmsh, pcs)"),
]
PEER = {"prime": "calc", "calc": "prime"}
UP = {"pingd": "1000"}  # the ping agent's attribute on a node that reaches its ping nodes
# crm_verify on a CIB without status, fencing on: about the nodes' state, not the configuration
STATE_WARNING = re.compile(r"lack of quorum|is unclean but cannot be fenced|Scheduling node")


@pytest.fixture(scope="module", autouse=True)
def host_untouched() -> Iterator[None]:
    """No tool here may write the host's /etc/corosync, /var/lib/pacemaker or /dev/shm."""
    before = host_state()
    yield
    assert host_state() == before


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Each repository configuration exported (as node prime) with every form."""
    root = tmp_path_factory.mktemp("export")
    out: dict[str, Path] = {}
    for name, config_dir in configs(root / "configs").items():
        target = root / "out" / name.replace(" ", "_").replace("/", "_")
        for fmt in ("crm", "pcs"):
            assert main(["export", "pacemaker", "--config-dir", str(config_dir), "--node",
                         "prime", "--output", str(target), "--format", fmt]) == 0, name
        out[name] = target
    yield out


def test_every_configuration_gives_a_cib_crm_verify_accepts(
        exported: dict[str, Path]) -> None:
    assert len(exported) == 4 + 3 * 5
    for name, out in exported.items():
        done = verify(out / "cib.xml", {"prime": UP, "calc": UP})
        assert (done.returncode, done.stderr + done.stdout) == (0, ""), name
        # as is (no status at all): at most the warnings about nodes never seen
        bare = verify(out / "cib.xml", verbose=True)
        said = [line for line in bare.stderr.splitlines() if "warning:" in line]
        assert bare.returncode in (0, 78) and all(STATE_WARNING.search(w) for w in said), (
            name, bare.stderr)


def test_crm_verify_can_refuse(exported: dict[str, Path], tmp_path: Path) -> None:
    """The check above can fail: a group naming a node-less class is refused."""
    broken = tmp_path / "cib.xml"
    text = (exported["seed"] / "cib.xml").read_text()
    broken.write_text(text.replace('class="ocf"', 'class="nonsense"', 1))
    assert verify(broken, {"prime": UP, "calc": UP}).returncode != 0


def test_each_group_runs_on_its_node_and_moves_when_it_is_down(
        exported: dict[str, Path]) -> None:
    for name, out in exported.items():
        cib = out / "cib.xml"
        groups = groups_of(cib)
        assert groups, name
        both = placement(cib, {"prime": UP, "calc": UP})
        assert {g: both[g] for g in groups} == {g: {n} for g, n in groups.items()}, name
        for down in ("prime", "calc"):
            alive = PEER[down]
            moved = placement(cib, {alive: UP})
            assert {g: moved[g] for g in groups} == {g: {alive} for g in groups}, (name, down)


@pytest.mark.parametrize(("config", "expected"), [("lab lab fencing=none", "prime"),
                                                  ("features", "calc")])
def test_failback_follows_auto_failback(exported: dict[str, Path], tmp_path: Path,
                                        config: str, expected: str) -> None:
    """`on` (the lab): back to prime when it returns. `off` (features): stays on calc."""
    cib = exported[config] / "cib.xml"
    prime_groups = [g for g, node in groups_of(cib).items() if node == "prime"]
    after = tmp_path / "calc-alone.xml"
    placement(cib, {"calc": UP}, save=after)
    back = placement(after, {"prime": UP, "calc": UP})
    assert {g: back[g] for g in prime_groups} == {g: {expected} for g in prime_groups}


def test_a_node_that_reaches_no_ping_node_runs_no_group(exported: dict[str, Path]) -> None:
    cib = exported["features"] / "cib.xml"
    assert "ping 198.18.1.254" in FEATURES_HACF
    where = placement(cib, {"prime": {"pingd": "0"}, "calc": UP})
    assert where and all(nodes == {"calc"} for nodes in where.values())
    nowhere = placement(cib, {"prime": {"pingd": "0"}, "calc": {"pingd": "0"}})
    assert all(nodes == set() for nodes in nowhere.values())


@pytest.mark.parametrize("config", ["seed", "features", "lab ocf fencing=none"])
def test_the_crm_form_loads_into_an_empty_cib_and_places_the_same(
        exported: dict[str, Path], tmp_path: Path, config: str) -> None:
    out = exported[config]
    cib = tmp_path / "crm.xml"
    cib.write_text(run(["cibadmin", "--empty"], tmp_path).stdout)
    done = run(["crm", "configure", "load", "update", str(out / "cib.crm")], tmp_path,
               env=_tool_env(tmp_path, cib))
    assert done.returncode == 0, done.stderr
    assert verify(cib, {"prime": UP, "calc": UP}).returncode == 0
    _same_placement(out / "cib.xml", cib)


@pytest.mark.parametrize("config", ["features"])  # ~35 pcs calls of ~2 s each
def test_the_pcs_form_builds_a_cib_that_places_the_same(
        exported: dict[str, Path], tmp_path: Path, config: str) -> None:
    out = exported[config]
    cib = tmp_path / "pcs.xml"
    cib.write_text(run(["cibadmin", "--empty"], tmp_path).stdout)
    done = run(["sh", str(out / "cib-pcs.sh"), str(cib)], tmp_path, timeout=600,
               env=_tool_env(tmp_path, None))
    assert done.returncode == 0, done.stderr
    # pcs leaves the node list to the running cluster (corosync.conf): add it as it would
    nodes = run(["cibadmin", "--create", "--scope", "nodes", "--xml-text",
                 '<node id="1" uname="prime"/>'], tmp_path, env=_tool_env(tmp_path, cib))
    assert nodes.returncode == 0, nodes.stderr
    run(["cibadmin", "--create", "--scope", "nodes", "--xml-text",
         '<node id="2" uname="calc"/>'], tmp_path, env=_tool_env(tmp_path, cib))
    assert verify(cib, {"prime": UP, "calc": UP}).returncode == 0
    _same_placement(out / "cib.xml", cib)


def _tool_env(home: Path, cib: Path | None) -> dict[str, str]:
    """crmsh and pcs on a file: CIB_file for cibadmin and crmsh, a HOME of the test's own."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    if cib is not None:
        env["CIB_file"] = str(cib)
    return env


def _same_placement(reference: Path, other: Path) -> None:
    for online in ({"prime": UP, "calc": UP}, {"calc": UP}, {"prime": UP}):
        assert placement(other, online) == placement(reference, online), online


@pytest.mark.root
@pytest.mark.parametrize("config", ["lab lab fencing=agent", "features"])
def test_corosync_accepts_the_conf_on_each_node(harness: Harness, tmp_path: Path,
                                                config: str) -> None:
    """Exported on each node, in its own network namespace, as an admin would."""
    config_dir = configs(tmp_path / "c")[config]
    names = {node: harness.add_netns(node) for node in ("prime", "calc")}
    for iface, net in (("eth1", "198.18.2"), ("eth2", "198.18.3")):
        harness.veth(Port(names["prime"], iface, f"{net}.1/24"),
                     Port(names["calc"], iface, f"{net}.2/24"))
    for node, netns in names.items():
        out = tmp_path / f"out-{node}"
        peer_address = "198.18.2.2" if node == "prime" else "198.18.2.1"
        done = harness.run([sys.executable, "-m", "twinbeat", "export", "pacemaker",
                            "--config-dir", str(config_dir), "--node", node, "--output",
                            str(out), "--address", f"{PEER[node]}={peer_address}"], netns)
        assert done.returncode == 0, done.stderr
        checked = corosync_test(harness, netns, out / "corosync.conf")
        assert checked.returncode == 0, checked.stderr + checked.stdout
    # the check can fail: a token Corosync refuses
    bad = tmp_path / "bad.conf"
    text = (tmp_path / "out-prime" / "corosync.conf").read_text()
    bad.write_text(re.sub(r"token: \d+", "token: 10", text))
    assert corosync_test(harness, names["prime"], bad).returncode != 0


def corosync_test(harness: Harness, netns: str,
                  conf: Path) -> subprocess.CompletedProcess[str]:
    """`corosync -t -c CONF` with a private /etc/corosync holding a fresh authkey: the host's
    /etc/corosync is never written (a mount namespace of the command's own)."""
    script = ("mount -t tmpfs -o mode=0700 twinbeat-test /etc/corosync && "
              "head -c 256 /dev/urandom > /etc/corosync/authkey && "
              "chmod 0400 /etc/corosync/authkey && exec corosync -t -c \"$0\"")
    return harness.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                        str(conf)], netns)
