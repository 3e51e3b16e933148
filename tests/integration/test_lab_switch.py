"""The lab's power switch (lab/switch.py) driven the way a node's fence devices drive it: from
inside the node's network namespace, through the real fence-agents protocol (fence_tblab) and
the real cluster-glue `stonith` (external/tblab). No core policy involved: these hold with or
without the core's fencing half. (The daemons run, and calc's sees prime's power go through
its cables at once: a long `fence_delay` keeps it from fencing prime itself while a test
powers prime off and on by hand; prime, back within it, cancels that fence.)
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator

import pytest
from lab_fixtures import logs, running_lab

from twinbeat.lab import network, procs
from twinbeat.lab.errors import wait_for
from twinbeat.lab.fencing import (
    POWER_OFF,
    POWER_ON,
    FenceSetup,
    have_stonith,
    power_state,
    switch_paths,
    switch_records,
)
from twinbeat.lab.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.slow]

HANDS_OFF = "60"  # s: calc's daemon's head start before it would fence prime itself


@pytest.fixture
def agent_lab() -> Iterator[Lab]:
    with running_lab(daemons=True, fencing=FenceSetup("agent", delay=HANDS_OFF)) as lab:
        yield lab


def agent(lab: Lab, from_node: str, stdin: str) -> subprocess.CompletedProcess[str]:
    """fence_tblab run inside `from_node`'s namespace, options on stdin (a pipe, as the
    daemon gives it)."""
    paths = switch_paths(lab.plan.run_dir)
    code = ("import subprocess, sys\n"
            "r = subprocess.run([sys.argv[1]], input=sys.argv[2], capture_output=True, "
            "text=True)\nsys.stdout.write(r.stdout); sys.stderr.write(r.stderr)\n"
            "sys.exit(r.returncode)\n")
    return lab.harness.python(lab.netns(from_node), code, str(paths.agent), stdin, timeout=60)


def options(lab: Lab, action: str, plug: str = "prime", password: str | None = None) -> str:
    paths = switch_paths(lab.plan.run_dir)
    secret = password if password is not None else paths.secret.read_text().strip()
    return f"action={action}\nplug={plug}\nsocket={paths.socket}\npassword={secret}\n"


def test_fence_agent_powers_a_node_off_and_on_from_inside_the_other(agent_lab: Lab) -> None:
    lab = agent_lab
    wait_for(lambda: lab.node("prime").running(), 10, "prime's daemon")
    victims = network.pids_in(lab.netns("prime"))
    result = agent(lab, "calc", options(lab, "off"))
    assert (result.returncode, result.stdout) == (0, "Success: Powered OFF\n"), result.stderr
    assert procs.wait_gone(victims, 5)  # the daemon and everything else in prime
    assert power_state(lab.plan.run_dir, "prime") == POWER_OFF
    assert not any(link.up for link in network.links(lab.netns("prime")).values()
                   if link.kind == "veth")
    status = agent(lab, "calc", options(lab, "status"))
    assert (status.returncode, status.stdout) == (2, "Status: OFF\n"), status.stderr
    again = agent(lab, "calc", options(lab, "off"))  # already off: still a success
    assert again.returncode == 0
    on = agent(lab, "calc", options(lab, "on"))
    assert (on.returncode, on.stdout) == (0, "Success: Powered ON\n")
    assert power_state(lab.plan.run_dir, "prime") == POWER_ON
    wait_for(lambda: lab.converged("prime"), 30, "prime back, holding the group")
    entries = [(e["from"], e["action"], e["node"], e["ok"]) for e in switch_records(
        lab.plan.run_dir) if e["action"] != "list"]
    assert entries[:4] == [("calc", "off", "prime", True), ("calc", "status", "prime", True),
                           ("calc", "off", "prime", True), ("calc", "on", "prime", True)], \
        logs(lab)


def test_the_switch_refuses_a_wrong_password_and_unknown_outlets(agent_lab: Lab) -> None:
    lab = agent_lab
    bad = agent(lab, "calc", options(lab, "off", password="guess"))
    assert bad.returncode == 1 and "switch refused: bad password" in bad.stderr
    nobody = agent(lab, "calc", options(lab, "off", plug="dana"))
    assert nobody.returncode == 1 and "no outlet for 'dana'" in nobody.stderr
    assert power_state(lab.plan.run_dir, "prime") == POWER_ON
    assert lab.node("prime").running()


def test_the_switch_socket_is_roots_alone(agent_lab: Lab) -> None:
    paths = switch_paths(agent_lab.plan.run_dir)
    assert paths.socket.stat().st_mode & 0o777 == 0o600
    assert paths.secret.stat().st_mode & 0o777 == 0o600


def test_an_unreachable_switch_fails_the_agent(agent_lab: Lab) -> None:
    lab = agent_lab
    lab.harness.signal("switch", signal.SIGKILL)
    wait_for(lambda: lab.harness.pid("switch") is None, 5, "the switch to die")
    result = agent(lab, "calc", options(lab, "off"))
    assert result.returncode == 1 and result.stderr.startswith("Failed: switch ")


@pytest.mark.skipif(not have_stonith(), reason="needs cluster-glue (scripts/install-deps)")
def test_cluster_glue_resets_a_node_through_the_external_plugin() -> None:
    with running_lab(daemons=True, fencing=FenceSetup("stonith", delay=HANDS_OFF)) as lab:
        wait_for(lambda: lab.converged("prime"), 30, "prime to hold the group")
        before = lab.harness.pid("prime-daemon")
        hacf = lab.plan.files("calc").config_dir / "ha.cf"
        assert hacf.stat().st_mode & 0o777 == 0o600  # it holds the switch's password
        line = next(ln for ln in hacf.read_text().splitlines() if ln.startswith("stonith_host"))
        params = line.split(" ", 3)[3]
        result = lab.harness.run(["/usr/sbin/stonith", "-t", "external/tblab", "-p", params,
                                  "-T", "reset", "prime"], lab.netns("calc"), timeout=60)
        assert result.returncode == 0, result.stderr
        entry = [e for e in switch_records(lab.plan.run_dir) if e["action"] == "reboot"]
        assert [(e["from"], e["node"], e["power"]) for e in entry] == [("calc", "prime", "on")]
        # A reset is off then on: a new daemon runs (a boot with twinbeat enabled).
        wait_for(lambda: lab.harness.pid("prime-daemon") not in (None, before), 10,
                 "prime's daemon to start again")
        hosts = lab.harness.run(["/usr/sbin/stonith", "-t", "external/tblab", "-p", params,
                                 "-l"], lab.netns("calc"), timeout=60)
        assert hosts.stdout.split() == ["prime", "calc"]
        log = [json.loads(x) for x in switch_paths(lab.plan.run_dir).log.read_text().split("\n")
               if x]
        assert all(e["from"] in ("prime", "calc") for e in log)
