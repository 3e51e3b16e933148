"""The fence driver against the real programs: fence-agents' fence_dummy, cluster-glue's
`stonith` with its null, external/ssh and meatware devices, and a fake external plugin of
the test's own (real devices need hardware). Each run goes through `Fencer.fence`, so each
test also checks the rule "exactly one PeerFenced or FenceFailed per FencePeer".
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from twinbeat.config.model import (
    FenceAction,
    FenceAgent,
    FenceDevice,
    Fencing,
    StonithHost,
)
from twinbeat.core import events as ev
from twinbeat.daemon.fencer import Fencer
from twinbeat.lab import procs
from twinbeat.resources.fence import Device

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(shutil.which("fence_dummy", path="/usr/sbin:/usr/bin") is None
                       or not os.path.exists("/usr/sbin/stonith"),
                       reason="needs fence-agents and cluster-glue (scripts/install-deps)"),
]
PLUGIN_DIR = Path("/usr/lib/stonith/plugins/external")
# A fake cluster-glue external plugin: it records what cluster-glue hands it (its operation,
# the node, its configuration from the environment, its parent's command line and its own
# PID) and exits with `result`, or hangs when `result` is `hang`.
FAKE_PLUGIN = """#!/bin/sh
case "$1" in
getconfignames) printf 'record\\nresult\\nhostlist\\n'; exit 0 ;;
getinfo-*) echo tbtest; exit 0 ;;
gethosts) for h in $hostlist; do echo "$h"; done; exit 0 ;;
status) exit 0 ;;
reset|on|off)
  stonith=$(cut -d' ' -f4 /proc/$PPID/stat)  # the plugin runs under `sh -c`, under stonith
  parent=$(tr '\\000' ' ' < /proc/$stonith/cmdline)
  printf 'op=%s node=%s result=%s hostlist=%s pid=%s parent=%s\\n' "$1" "$2" "$result" \\
    "$hostlist" "$$" "$parent" >> "$record"
  if [ "$result" = hang ]; then sleep 60; fi
  exit "$result" ;;
esac
exit 1
"""


def fencer(*specs: FenceDevice, timeout: float = 20.0,
           action: FenceAction = FenceAction.REBOOT) -> tuple[Fencer, list[ev.Event]]:
    reported: list[ev.Event] = []

    async def report(event: ev.Event) -> None:
        reported.append(event)

    devices = [Device.resolve(spec) for spec in specs]
    return Fencer("calc", Fencing(tuple(specs), 0.0, timeout, action), devices,
                  report), reported


def dummy(tmp_path: Path, *options: tuple[str, str], line: int = 5) -> FenceAgent:
    return FenceAgent("*", "fence_dummy",
                      (("status_file", str(tmp_path / "dummy.status")), *options), line)


@pytest.fixture
def fake_plugin() -> Iterator[str]:
    """`external/<name>`: the fake plugin, installed where cluster-glue looks, then removed."""
    name = f"tbtest{secrets.token_hex(3)}"
    path = PLUGIN_DIR / name
    path.write_text(FAKE_PLUGIN)
    os.chmod(path, 0o755)
    try:
        yield f"external/{name}"
    finally:
        path.unlink(missing_ok=True)


async def test_fence_dummy_off_then_reboot(tmp_path: Path) -> None:
    (tmp_path / "dummy.status").write_text("on")
    for action, state in ((FenceAction.OFF, "off"), (FenceAction.REBOOT, "on")):
        fence, reported = fencer(dummy(tmp_path), action=action)
        with trio.fail_after(30):
            await fence.fence("calc")
        assert reported == [ev.PeerFenced("calc")]
        assert (tmp_path / "dummy.status").read_text() == state
        assert fence.states[fence.devices[0].name].fenced == 1


async def test_fence_dummy_failure_names_the_device_and_its_last_words(tmp_path: Path) -> None:
    fence, reported = fencer(dummy(tmp_path, ("type", "fail"), ("power_timeout", "1")))
    with trio.fail_after(30):
        await fence.fence("calc")
    assert reported == [ev.FenceFailed("calc", "fence fence_dummy (ha.cf:5): exited 1: Failed: "
                                               "Timed out waiting to power OFF")]


async def test_the_device_check_is_the_agents_monitor(tmp_path: Path) -> None:
    good, _ = fencer(dummy(tmp_path))
    bad, _ = fencer(FenceAgent("*", "/bin/false", (), 6))
    with trio.fail_after(30):
        await good.check_devices()
        await bad.check_devices()
    assert [s.check for s in good.states.values()] == ["ok"]
    [state] = bad.states.values()
    assert (state.check, state.detail) == ("failed", "fence /bin/false (ha.cf:6): exited 1")
    assert bad.view(trio.current_time())[0]["check"] == "failed"


async def test_a_password_never_reaches_the_log(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    # fence_dummy takes no password and echoes the option it ignores on stderr.
    secret = tmp_path / "dummy.secret"
    secret.write_text("hunter2-xyzzy\n")
    os.chmod(secret, 0o600)
    fence, reported = fencer(dummy(tmp_path, ("password_file", str(secret)), ("type", "fail"),
                                   ("power_timeout", "1")))
    caplog.set_level(logging.DEBUG)
    with trio.fail_after(30):
        await fence.fence("calc")
    assert isinstance(reported[0], ev.FenceFailed)
    assert "Ignoring unknown option 'password=***'" in caplog.text
    assert "hunter2" not in caplog.text and "hunter2" not in str(reported)


async def test_stonith_null_resets(tmp_path: Path) -> None:
    fence, reported = fencer(StonithHost("*", "null", "prime calc", 3))
    with trio.fail_after(30):
        await fence.fence("calc")
    assert reported == [ev.PeerFenced("calc")]


async def test_stonith_exit_codes_are_named() -> None:
    # external/ssh fences only the hosts in its hostlist: S_RESETFAIL for calc, at once.
    fence, reported = fencer(StonithHost("*", "external/ssh", "prime", 3))
    with trio.fail_after(30):
        await fence.fence("calc")
    assert reported == [ev.FenceFailed(
        "calc", "stonith_host * external/ssh (ha.cf:3): stonith exited 5 (S_RESETFAIL: the "
                "reset failed)")]


async def test_heartbeats_params_reach_the_plugin_as_heartbeat_passed_them(
        tmp_path: Path, fake_plugin: str) -> None:
    record = tmp_path / "record"
    # The last configuration name gets the rest of the line: heartbeat's stonith1 rule.
    params = f"{record} 0 prime calc"
    for action, op in ((FenceAction.REBOOT, "reset"), (FenceAction.OFF, "off")):
        fence, reported = fencer(StonithHost("*", fake_plugin, params, 3), action=action)
        with trio.fail_after(30):
            await fence.fence("calc")
        assert reported == [ev.PeerFenced("calc")]
        line = record.read_text().splitlines()[-1]
        assert line.startswith(f"op={op} node=calc result=0 hostlist=prime calc pid=")
        parent = line.split(" parent=")[1]
        assert parent.split()[:5] == ["/usr/sbin/stonith", "-t", fake_plugin, "-F",
                                      "/dev/stdin"]
        assert str(record) not in parent  # the parameters never were on a command line


async def test_a_failing_plugin_is_s_resetfail(tmp_path: Path, fake_plugin: str) -> None:
    fence, reported = fencer(StonithHost("*", fake_plugin, f"{tmp_path / 'r'} 1 calc", 3))
    with trio.fail_after(30):
        await fence.fence("calc")
    assert isinstance(reported[0], ev.FenceFailed)
    assert "stonith exited 5 (S_RESETFAIL" in reported[0].reason


async def test_a_hung_device_is_killed_with_its_children_at_the_timeout(
        tmp_path: Path, fake_plugin: str) -> None:
    record = tmp_path / "record"
    fence, reported = fencer(StonithHost("*", fake_plugin, f"{record} hang calc", 3),
                             timeout=1.5)
    started = time.monotonic()
    with trio.fail_after(30):
        await fence.fence("calc")
    assert 1.5 <= time.monotonic() - started < 5
    assert reported == [ev.FenceFailed(
        "calc", f"stonith_host * {fake_plugin} (ha.cf:3): timed out after 1.5s (killed)")]
    plugin_pid = int(record.read_text().split(" pid=")[1].split()[0])
    assert procs.wait_gone([plugin_pid], 2.0), "the plugin outlived its fence"


async def test_meatware_waits_for_an_operator_so_it_times_out() -> None:
    fence, reported = fencer(StonithHost("*", "meatware", "calc", 3), timeout=1.0)
    with trio.fail_after(30):
        await fence.fence("calc")
    assert reported == [ev.FenceFailed(
        "calc", "stonith_host * meatware (ha.cf:3): timed out after 1s (killed)")]


async def test_devices_are_tried_in_order_until_one_fences(tmp_path: Path) -> None:
    failing = dummy(tmp_path, ("type", "fail"), ("power_timeout", "1"), line=4)
    fence, reported = fencer(failing, StonithHost("*", "null", "calc", 5))
    with trio.fail_after(30):
        await fence.fence("calc")
    assert reported == [ev.PeerFenced("calc")]
    assert [(s.fenced, s.failed) for s in fence.states.values()] == [(0, 1), (1, 0)]


async def test_when_every_device_fails_the_reasons_are_joined(tmp_path: Path) -> None:
    fence, reported = fencer(StonithHost("*", "external/ssh", "prime", 3),
                             FenceAgent("*", "/bin/false", (), 4))
    with trio.fail_after(30):
        await fence.fence("calc")
    assert reported == [ev.FenceFailed(
        "calc", "stonith_host * external/ssh (ha.cf:3): stonith exited 5 (S_RESETFAIL: the "
                "reset failed); fence /bin/false (ha.cf:4): exited 1")]


async def test_a_missing_agent_fails_without_running_anything() -> None:
    fence, reported = fencer(FenceAgent("*", "fence_twinbeat_nosuch", (), 4))
    await fence.fence("calc")
    assert reported == [ev.FenceFailed(
        "calc", "fence fence_twinbeat_nosuch (ha.cf:4): program not found on this node")]


async def test_only_the_peer_and_only_with_devices() -> None:
    fence, reported = fencer(StonithHost("*", "null", "calc", 3))
    await fence.fence("prime")
    empty, none = fencer()
    await empty.fence("calc")
    assert reported == [ev.FenceFailed("prime", "prime is not this node's peer (calc)")]
    assert none == [ev.FenceFailed("calc", "no fence device configured for this node")]


async def test_fences_never_overlap_and_each_gets_its_answer(tmp_path: Path) -> None:
    agent = tmp_path / "fence_slow"
    runs = tmp_path / "runs"
    agent.write_text("#!/bin/sh\n[ \"$1\" = -o ] && exit 1  # no metadata\n"
                     f"echo start >> {runs}\nsleep 0.5\necho end >> {runs}\n")
    os.chmod(agent, 0o755)
    fence, reported = fencer(FenceAgent("*", str(agent), (), 3))
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(fence.fence, "calc")
            nursery.start_soon(fence.fence, "calc")
    assert reported == [ev.PeerFenced("calc"), ev.PeerFenced("calc")]
    assert runs.read_text().split() == ["start", "end", "start", "end"]
