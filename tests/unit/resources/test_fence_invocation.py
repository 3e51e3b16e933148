"""What each fencing line runs (resources/fence.py): argv, stdin, masking; no process started.

The exact command lines are documented in docs/fencing.md; these tests hold them to it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twinbeat.config.model import FenceAction, FenceAgent, StonithFile, StonithHost
from twinbeat.resources.fence import CHECK, Device, FenceError, last_line, mask

STONITH = "/usr/sbin/stonith"


def test_stonith_host_params_go_on_stdin_not_the_command_line() -> None:
    device = Device(StonithHost("*", "external/ipmi", "calc 198.18.3.11 admin hunter2 lan", 7),
                    STONITH)
    run = device.invocation(FenceAction.REBOOT, "calc")
    assert run.argv == (STONITH, "-t", "external/ipmi", "-F", "/dev/stdin", "-T", "reset",
                        "calc")
    assert run.stdin == b"calc 198.18.3.11 admin hunter2 lan\n"
    assert "hunter2" in run.masked and all("hunter2" not in a for a in run.argv)


def test_stonith_host_without_params_uses_an_empty_p() -> None:
    run = Device(StonithHost("*", "suicide", "", 3), STONITH).invocation(FenceAction.OFF, "calc")
    assert run.argv == (STONITH, "-t", "suicide", "-p", "", "-T", "off", "calc")
    assert run.stdin == b""


def test_stonith_file_and_the_device_check() -> None:
    device = Device(StonithFile("baytech", "/etc/ha.d/baytech.cfg", 4), STONITH)
    assert device.invocation(FenceAction.OFF, "calc").argv == (
        STONITH, "-t", "baytech", "-F", "/etc/ha.d/baytech.cfg", "-T", "off", "calc")
    assert device.invocation(CHECK, "calc").argv == (
        STONITH, "-t", "baytech", "-F", "/etc/ha.d/baytech.cfg", "-S")


def _agent(*options: tuple[str, str], target: str = "*") -> FenceAgent:
    return FenceAgent(target, "fence_ipmilan", options, 9)


def test_agent_protocol_on_stdin() -> None:
    device = Device(_agent(("ip", "198.18.3.11"), ("username", "admin"), ("lanplus", "1")),
                    "/usr/sbin/fence_ipmilan")
    run = device.invocation(FenceAction.REBOOT, "calc")
    assert run.argv == ("/usr/sbin/fence_ipmilan",)
    assert run.stdin.decode().splitlines() == [
        "action=reboot", "plug=calc", "ip=198.18.3.11", "username=admin", "lanplus=1"]


def test_agent_without_a_plug_or_with_its_own() -> None:
    plugless = Device(_agent(("ip", "1")), "/a", takes_plug=False)
    assert plugless.invocation(FenceAction.OFF, "calc").stdin == b"action=off\nip=1\n"
    own = Device(_agent(("port", "3")), "/a")
    assert own.invocation(FenceAction.OFF, "calc").stdin == b"action=off\nport=3\n"


def test_agent_check_is_monitor_without_a_plug() -> None:
    run = Device(_agent(("ip", "1")), "/a").invocation(CHECK, "calc")
    assert run.stdin == b"action=monitor\nip=1\n"


def test_inline_passwords_are_masked() -> None:
    run = Device(_agent(("password", "hunter2")), "/a").invocation(FenceAction.OFF, "calc")
    assert b"password=hunter2\n" in run.stdin and run.masked == ("hunter2",)


@pytest.mark.root
def test_password_file_is_read_and_sent_as_password(tmp_path: Path) -> None:
    secret = tmp_path / "ipmi.secret"
    secret.write_text("hunter2\nsecond line ignored\n")
    os.chmod(secret, 0o600)
    run = Device(_agent(("password_file", str(secret))), "/a").invocation(FenceAction.OFF, "c")
    assert run.stdin.decode().splitlines()[-1] == "password=hunter2"
    assert run.masked == ("hunter2",)
    assert all("hunter2" not in a for a in run.argv)


@pytest.mark.root
def test_an_unsafe_password_file_fails_the_run_with_one_line(tmp_path: Path) -> None:
    secret = tmp_path / "ipmi.secret"
    secret.write_text("hunter2\n")
    os.chmod(secret, 0o640)
    device = Device(_agent(("password_file", str(secret))), "/a")
    with pytest.raises(FenceError) as caught:
        device.invocation(FenceAction.OFF, "calc")
    message = str(caught.value)
    assert message == (f"fence fence_ipmilan (ha.cf:9): password_file: {secret}: bad "
                       f"permissions 0640 (group/other may read or write it); 600 recommended "
                       f"(chmod 600 {secret})")
    assert "hunter2" not in message


def test_a_missing_program_fails_the_run() -> None:
    with pytest.raises(FenceError, match=r"fence fence_ipmilan \(ha.cf:9\): program not found"):
        Device(_agent(), None).invocation(FenceAction.OFF, "calc")


def test_mask_replaces_longer_secrets_first() -> None:
    assert mask("pw=abcdef and abc", ("abc", "abcdef", "")) == "pw=*** and ***"


def test_last_line() -> None:
    assert last_line("Parse error\n\nFailed: Timed out waiting to power OFF\n\n") == (
        "Failed: Timed out waiting to power OFF")
    assert last_line("") == ""
