"""The OCF agent: its environment, exit codes per action, meta-data timeouts, and heartbeat's
classic names through it. Stand-in agents in a tmp OCF root where an exit code must be forced;
resource-agents' real `Dummy` (and the classic `Delay`) where one can run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twinbeat.config.model import OcfResource, ScriptResource
from twinbeat.config.ocf import agent_path
from twinbeat.resources import AgentError, script
from twinbeat.resources.group import make_agent
from twinbeat.resources.health import Check, Health
from twinbeat.resources.ocf import OcfAgent

HAVE_AGENTS = os.access(agent_path("heartbeat", "Dummy"), os.X_OK)
needs_agents = pytest.mark.skipif(not HAVE_AGENTS, reason="resource-agents not installed")

META = """<resource-agent name="t"><parameters><parameter name="p"/></parameters><actions>
<action name="start" timeout="7s"/><action name="stop" timeout="8s"/>
<action name="monitor" timeout="9s" interval="10s"/><action name="meta-data" timeout="5s"/>
</actions></resource-agent>"""


def stand_in(root: Path, codes: dict[str, int], log: Path, meta: str = META) -> OcfAgent:
    """An agent that logs its action and OCF environment, and exits as told per action."""
    path = root / "resource.d" / "test" / "t"
    path.parent.mkdir(parents=True, exist_ok=True)
    cases = "".join(f"  {action}) exit {code};;\n" for action, code in codes.items())
    path.write_text(
        "#!/bin/sh\n"
        f'echo "$1 $OCF_ROOT $OCF_RESOURCE_INSTANCE $OCF_RESKEY_p $OCF_RESKEY_CRM_meta_timeout"'
        f" >> {log}\n"
        f"if [ \"$1\" = meta-data ]; then cat <<'EOF'\n{meta}\nEOF\nexit 0; fi\n"
        '[ "$1" = monitor ] && echo "ocf-exit-reason:it broke" >&2\n'
        f'case "$1" in\n{cases}esac\nexit 0\n')
    path.chmod(0o755)
    return OcfAgent("ocf:test:t::p=v", str(path), provider="test", agent="t",
                    params=(("p", "v"),), instance="t_1", ocf_root=str(root))


async def test_environment_action_and_meta_data_timeouts(tmp_path) -> None:
    log = tmp_path / "log"
    agent = stand_in(tmp_path / "ocf", {}, log)
    await agent.start()
    await agent.stop()
    assert await agent.monitor(3.0) == Check(Health.OK)
    root = tmp_path / "ocf"
    assert log.read_text().splitlines() == [
        f"meta-data {root} t_1 v 10000",   # read once, under its own 10 s
        f"start {root} t_1 v 7000",        # each action's advised timeout, in ms
        f"stop {root} t_1 v 8000",
        f"monitor {root} t_1 v 3000",      # the monitor's is the driver's
    ]
    assert await agent.advised_timeout("monitor") == 9.0


@pytest.mark.parametrize(("code", "health", "detail"), [
    (0, Health.OK, ""),
    (7, Health.NOT_RUNNING, "monitor: OCF_NOT_RUNNING (7): it broke"),
    (1, Health.FAILED, "monitor: OCF_ERR_GENERIC (1): it broke"),
    (2, Health.FAILED, "monitor: OCF_ERR_ARGS (2): it broke"),
    (3, Health.UNSUPPORTED, "monitor: OCF_ERR_UNIMPLEMENTED (3): it broke"),
    (4, Health.CANNOT_RUN, "monitor: OCF_ERR_PERM (4): it broke"),
    (5, Health.CANNOT_RUN, "monitor: OCF_ERR_INSTALLED (5): it broke"),
    (6, Health.CANNOT_RUN, "monitor: OCF_ERR_CONFIGURED (6): it broke"),
    (8, Health.FAILED, "monitor: OCF_RUNNING_PROMOTED (8): it broke"),
    (42, Health.FAILED, "monitor: unknown exit code (42): it broke"),
])
async def test_monitor_exit_codes(tmp_path, code, health, detail) -> None:
    agent = stand_in(tmp_path / "ocf", {"monitor": code}, tmp_path / "log")
    assert await agent.monitor(5.0) == Check(health, detail)


@pytest.mark.parametrize(("code", "running"), [(0, True), (7, False), (5, False), (1, None)])
async def test_status_for_the_probe_and_the_stop(tmp_path, code, running) -> None:
    agent = stand_in(tmp_path / "ocf", {"monitor": code}, tmp_path / "log")
    if running is None:
        with pytest.raises(AgentError, match="OCF_ERR_GENERIC"):
            await agent.status()
    else:
        assert await agent.status() is running


async def test_start_and_stop_codes(tmp_path) -> None:
    agent = stand_in(tmp_path / "ocf", {"start": 5, "stop": 7}, tmp_path / "log")
    with pytest.raises(AgentError, match=r"^ocf:test:t::p=v: start: OCF_ERR_INSTALLED \(5\)$"):
        await agent.start()
    await agent.stop()  # 7: already stopped counts as stopped
    agent = stand_in(tmp_path / "ocf2", {"stop": 1}, tmp_path / "log")
    with pytest.raises(AgentError, match=r"stop: OCF_ERR_GENERIC \(1\)"):
        await agent.stop()


async def test_without_meta_data_the_default_timeout_and_no_monitor_action(tmp_path) -> None:
    log = tmp_path / "log"
    agent = stand_in(tmp_path / "ocf", {}, log, meta="<garbage")
    await agent.start()
    assert log.read_text().splitlines()[-1].endswith(" 30000")
    nomon = stand_in(tmp_path / "ocf2", {}, log, meta=(
        '<resource-agent name="t"><actions><action name="start"/></actions>'
        "</resource-agent>"))
    assert await nomon.monitor(5.0) == Check(Health.UNSUPPORTED,
                                             "the agent has no monitor action")


@needs_agents
async def test_real_dummy_agent_through_make_agent(tmp_path) -> None:
    state = tmp_path / "dummy.state"
    text = f"ocf:heartbeat:Dummy::state={state}"
    agent = make_agent(OcfResource("heartbeat", "Dummy", (("state", str(state)),), text),
                       str(tmp_path))
    assert (await agent.monitor(20.0)).health is Health.NOT_RUNNING
    assert await agent.status() is False
    await agent.start()
    assert state.exists()
    assert await agent.monitor(20.0) == Check(Health.OK)
    state.unlink()  # the "service" died
    check = await agent.monitor(20.0)
    assert check.health is Health.NOT_RUNNING
    assert check.detail.startswith("monitor: OCF_NOT_RUNNING (7)")
    await agent.stop()
    assert await agent.advised_timeout("monitor") == 20.0


async def test_classic_name_runs_the_ocf_agent_with_heartbeats_mapping(tmp_path, monkeypatch):
    """`Delay::1::0` without heartbeat: `<OCF_ROOT>/resource.d/heartbeat/Delay` with
    startdelay=1 stopdelay=0 and heartbeat's instance name. (A stand-in Delay: the real one
    sleeps 30 s in every monitor, which heartbeat's wrapper never configured.)"""
    root = tmp_path / "ocf"
    log = tmp_path / "log"
    path = root / "resource.d" / "heartbeat" / "Delay"
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n[ \"$1\" = meta-data ] && exit 1\n"
                    f'echo "$1 $OCF_RESOURCE_INSTANCE $OCF_RESKEY_startdelay '
                    f'$OCF_RESKEY_stopdelay" >> {log}\n'
                    '[ "$1" = monitor ] && exit 7\nexit 0\n')
    path.chmod(0o755)
    monkeypatch.setattr(script, "INIT_D", str(tmp_path / "no-init.d"))
    monkeypatch.setattr(script, "OCF_ROOT", str(root))
    delay = script.ScriptAgent(ScriptResource("Delay", ("1", "0"), "Delay::1::0"),
                               str(tmp_path / "ha.d"))
    assert delay.program() == script.Program("ocf", str(path))
    assert (await delay.monitor(20.0)).health is Health.NOT_RUNNING
    await delay.start()
    assert await delay.status() is False
    await delay.stop()
    assert log.read_text().splitlines() == [
        "monitor Delay_1 1 0", "start Delay_1 1 0", "monitor Delay_1 1 0", "stop Delay_1 1 0"]


async def test_a_resource_d_script_of_a_classic_name_wins(tmp_path, monkeypatch) -> None:
    """heartbeat's own lookup: resource.d first, so an admin's wrapper is kept."""
    monkeypatch.setattr(script, "INIT_D", str(tmp_path / "no-init.d"))
    own = tmp_path / "ha.d" / "resource.d" / "Filesystem"
    own.parent.mkdir(parents=True)
    own.write_text("#!/bin/sh\necho running\n")
    own.chmod(0o755)
    fs = script.ScriptAgent(ScriptResource("Filesystem", ("/dev/x",), "Filesystem::/dev/x"),
                            str(tmp_path / "ha.d"))
    assert fs.program() == script.Program("resource.d", str(own))
    assert await fs.monitor(5.0) == Check(Health.OK)


@needs_agents
async def test_classic_name_with_arguments_its_wrapper_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(script, "INIT_D", str(tmp_path / "no-init.d"))
    fs = script.ScriptAgent(ScriptResource("Filesystem", ("/dev/x",), "Filesystem::/dev/x"),
                            str(tmp_path / "ha.d"))
    with pytest.raises(AgentError, match="Filesystem takes Filesystem::device::directory"):
        await fs.start()
