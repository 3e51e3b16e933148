"""etc/systemd/twinbeat.service: its settings, and `systemd-analyze verify` on it.

`systemd-analyze verify` checks that ExecStart's binary exists, so the unit is verified from a
copy whose ExecStart points at this venv's `twinbeat`. verify exits 0 on keys it ignores (a
misspelt Type= is only a warning), so any message about our files counts as a failure; the
negative tests prove that check catches broken copies.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from twinbeat.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "etc" / "systemd" / "twinbeat.service"
HARDENING = ROOT / "etc" / "systemd" / "twinbeat-hardening.conf"
INSTALLED_BINARY = "/usr/local/bin/twinbeat"


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections -> [(key, value)] in order; keys may repeat (After=, Wants=, ...)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"continuation lines are not used here: {raw!r}"
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        assert current is not None, f"key outside a section: {raw!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {raw!r}"
        sections[current].append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    """All values of key, split on whitespace (as systemd does for list settings)."""
    return [word for k, v in unit.get(section, []) if k == key for word in v.split()]


def single(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> str:
    found = [v for k, v in unit.get(section, []) if k == key]
    assert len(found) == 1, f"[{section}] {key}= appears {len(found)} times"
    return found[0]


def seconds(span: str) -> float:
    """A systemd time span like '10s', '2min', '120' -> seconds."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "ms": 0.001, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", span):
        total += float(number) * units[unit]
    return total


@pytest.fixture(scope="module")
def unit() -> dict[str, list[tuple[str, str]]]:
    return parse_unit(UNIT.read_text())


def test_type_notify_and_only_main_may_notify(unit):
    assert single(unit, "Service", "Type") == "notify"
    assert single(unit, "Service", "NotifyAccess") == "main"


def test_watchdog_is_set_and_sane(unit):
    # The daemon pings every WatchdogSec/3; below ~3 s a loaded box would trip it.
    assert 3 <= seconds(single(unit, "Service", "WatchdogSec")) <= 60


def test_restart_on_failure_with_a_start_limit(unit):
    assert single(unit, "Service", "Restart") == "on-failure"
    assert seconds(single(unit, "Service", "RestartSec")) >= 1
    assert int(single(unit, "Unit", "StartLimitBurst")) >= 1


def test_ordered_after_network_online(unit):
    assert "network-online.target" in values(unit, "Unit", "After")
    assert "network-online.target" in values(unit, "Unit", "Wants")


def test_graceful_stop(unit):
    # SIGTERM to the daemon only, so it stops resources in order; enough time for that.
    assert single(unit, "Service", "KillMode") == "mixed"
    assert seconds(single(unit, "Service", "TimeoutStopSec")) >= 60


def test_exec_start_matches_the_cli_and_the_managed_directories(unit):
    argv = single(unit, "Service", "ExecStart").split()
    assert argv[0] == INSTALLED_BINARY
    args = build_parser().parse_args(argv[1:])
    assert args.command == "run"
    assert args.run_dir == "/run/" + single(unit, "Service", "RuntimeDirectory")
    assert args.state_dir == "/var/lib/" + single(unit, "Service", "StateDirectory")
    assert args.config_dir == "/etc/ha.d"
    assert single(unit, "Service", "RuntimeDirectoryMode") == "0755"


def test_exec_stop_post_cleans_up_with_the_same_files(unit):
    argv = single(unit, "Service", "ExecStopPost").split()
    assert argv[0] == INSTALLED_BINARY
    args = build_parser().parse_args(argv[1:])
    assert args.command == "cleanup"
    assert args.config_dir == "/etc/ha.d"
    assert args.run_dir == "/run/" + single(unit, "Service", "RuntimeDirectory")


def test_starts_only_once_etc_ha_d_is_configured(unit):
    # The package enables the unit at install time; a start before all three files exist is
    # skipped (ConditionPathExists=), never a half-configured daemon (docs/install.md).
    assert set(values(unit, "Unit", "ConditionPathExists")) == {
        "/etc/ha.d/ha.cf",
        "/etc/ha.d/authkeys",
        "/etc/ha.d/haresources",
    }


def test_exec_reload_asks_the_daemon_and_waits_for_its_answer(unit):
    argv = single(unit, "Service", "ExecReload").split()
    assert argv[0] == INSTALLED_BINARY
    args = build_parser().parse_args(argv[1:])
    assert (args.command, args.dry_run) == ("reload", False)
    assert args.run_dir == "/run/" + single(unit, "Service", "RuntimeDirectory")


def test_realtime_limits(unit):
    assert single(unit, "Service", "LimitMEMLOCK") == "infinity"
    assert int(single(unit, "Service", "LimitRTPRIO")) > 0


def test_main_unit_has_no_mount_namespace(unit):
    # Resource scripts inherit the sandbox; a private mount namespace would hide their mounts
    # (Filesystem resources) from the host. Hardening lives in the optional drop-in.
    for key in ("ProtectSystem", "ProtectHome", "PrivateTmp", "ReadOnlyPaths", "PrivateMounts"):
        assert not values(unit, "Service", key), f"{key}= belongs in twinbeat-hardening.conf"


def test_hardening_drop_in_keeps_what_the_daemon_needs():
    dropin = parse_unit(HARDENING.read_text())
    caps = set(values(dropin, "Service", "CapabilityBoundingSet"))
    assert caps == {
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_NICE",
        "CAP_IPC_LOCK",
    }
    families = set(values(dropin, "Service", "RestrictAddressFamilies"))
    assert {"AF_UNIX", "AF_INET", "AF_NETLINK", "AF_PACKET"} <= families
    for forbidden in ("RestrictRealtime", "PrivateDevices", "PrivateNetwork"):
        assert not values(dropin, "Service", forbidden)


# --- systemd-analyze verify ------------------------------------------------------------------


def _systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze not found (apt-get install systemd)")
    return path


def _twinbeat_binary(tmp_path: Path) -> str:
    """This venv's console script, or an executable stub (verify only checks it exists)."""
    candidate = Path(sys.executable).parent / "twinbeat"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    stub = tmp_path / "bin" / "twinbeat"
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return str(stub)


def _verify(
    tmp_path: Path, unit_text: str, dropin_text: str | None = None
) -> tuple[int, list[str]]:
    """Verify a copy of the unit; return verify's exit code and its messages about our files."""
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    unit_path = unit_dir / "twinbeat.service"
    unit_path.write_text(unit_text.replace(INSTALLED_BINARY, _twinbeat_binary(tmp_path)))
    if dropin_text is not None:
        (unit_dir / "twinbeat.service.d").mkdir()
        (unit_dir / "twinbeat.service.d" / "hardening.conf").write_text(dropin_text)
    env = dict(os.environ, SYSTEMD_PAGER="cat", SYSTEMD_LOG_COLOR="0")
    proc = subprocess.run(
        # --man=no: Documentation= names the man pages, which only the Debian package installs
        # (tests/packaging verifies the installed unit with them).
        [_systemd_analyze(), "verify", "--man=no", str(unit_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    messages = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if str(unit_dir) in line or "twinbeat.service" in line
    ]
    return proc.returncode, messages


def test_verify_accepts_the_unit(tmp_path):
    rc, messages = _verify(tmp_path, UNIT.read_text())
    assert (rc, messages) == (0, [])


def test_verify_accepts_the_unit_with_the_hardening_drop_in(tmp_path):
    rc, messages = _verify(tmp_path, UNIT.read_text(), HARDENING.read_text())
    assert (rc, messages) == (0, [])


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        ("Type=notify", "Type=notfy", "service type"),
        ("KillMode=mixed", "KillMode=mixd", "kill mode"),
        ("WatchdogSec=", "WatchdogSecs=", "Unknown key"),
    ],
)
def test_verify_reports_a_broken_unit(tmp_path, old, new, expect):
    text = UNIT.read_text()
    assert old in text
    _rc, messages = _verify(tmp_path, text.replace(old, new, 1))
    assert messages, "a broken unit went unnoticed"
    assert any(expect.lower() in m.lower() for m in messages), messages


def test_verify_reports_a_missing_binary(tmp_path):
    text = UNIT.read_text().replace(INSTALLED_BINARY, "/nonexistent/twinbeat")
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    (unit_dir / "twinbeat.service").write_text(text)
    proc = subprocess.run(
        [_systemd_analyze(), "verify", str(unit_dir / "twinbeat.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "/nonexistent/twinbeat" in proc.stderr


def test_verify_reports_a_broken_drop_in(tmp_path):
    broken = HARDENING.read_text().replace("ProtectHome=yes", "ProtectHome=ys")
    _rc, messages = _verify(tmp_path, UNIT.read_text(), broken)
    assert messages, "a broken drop-in went unnoticed"
