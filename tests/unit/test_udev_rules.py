"""udev/60-twinbeat-serial.rules: static checks, and `udevadm test` on the real ttyS0.

`udevadm test` is not a dry run: it applies OWNER/GROUP/MODE to the device node, creates the
symlinks and writes udev's database under /run/udev. So instead of copying the rules into the
host's /etc/udev/rules.d and chmod-ing the host's /dev/ttyS0 (possibly its console), each run
happens in a private mount namespace (`unshare --mount`) with a tmpfs /dev holding a copy of
the ttyS0 node, a tmpfs /run, and the rules under test bind-mounted over /etc/udev/rules.d.
The packaged rules in /usr/lib/udev/rules.d still apply, so ordering against them (dialout
from 50-udev-default.rules) is tested too. Nothing on the host changes, even if a run dies.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "udev" / "60-twinbeat-serial.rules"
RULES_NAME = RULES.name
TTY = "ttyS0"
SYSFS_TTY = Path("/sys/class/tty") / TTY
LINK = "twinbeat/serial0"


def rule_lines(text: str) -> list[str]:
    lines = (ln.strip() for ln in text.splitlines())
    return [ln for ln in lines if ln and not ln.startswith("#")]


_KEY = re.compile(r'([A-Za-z_]+(?:\{[^}]*\})?)\s*(==|!=|\+=|:=|=)\s*"([^"]*)"')


def keys(rule: str) -> dict[str, str]:
    """KEY or KEY{attr} -> value of one rule line (the operator is checked by udevadm)."""
    return {m[0]: m[2] for m in _KEY.findall(rule)}


# --- static checks ---------------------------------------------------------------------------


def test_every_naming_rule_is_root_only_and_hidden_from_modemmanager():
    naming = [r for r in rule_lines(RULES.read_text()) if "SYMLINK" in r]
    assert len(naming) == 3
    for rule in naming:
        k = keys(rule)
        assert k["SYMLINK"] == LINK, rule
        assert (k["MODE"], k["OWNER"], k["GROUP"]) == ("0600", "root", "root"), rule
        assert k["ENV{ID_MM_DEVICE_IGNORE}"] == "1", rule


def test_usb_examples_match_vendor_product_and_serial():
    usb = [keys(r) for r in rule_lines(RULES.read_text()) if "ATTRS{idVendor}" in r]
    ids = {(k["ATTRS{idVendor}"], k["ATTRS{idProduct}"]) for k in usb}
    assert ids == {("0403", "6001"), ("067b", "2303")}  # FTDI FT232R, Prolific PL2303
    assert all(k.get("ATTRS{serial}") for k in usb)


def test_file_sorts_before_modemmanager_and_after_udev_default():
    assert "50-udev-default.rules" < RULES_NAME < "77-mm-usb-device-blacklist.rules"


# --- udevadm test in a private mount namespace -----------------------------------------------


@dataclass
class Run:
    output: str  # udevadm test's stdout + stderr
    link: str | None  # readlink of /dev/twinbeat/serial0, None if absent
    mode: str  # "600 0 0": permissions, uid, gid of the device node afterwards


def _udevadm() -> str:
    path = shutil.which("udevadm")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "udev"],
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
            capture_output=True,
            timeout=600,
            check=False,
        )
        path = shutil.which("udevadm")
    if path is None:
        pytest.skip("udevadm not found and `apt-get install -y udev` did not provide it")
    return path


_SCRIPT = r"""
set -e
mount -t tmpfs twinbeat-test /dev
mknod -m 0666 /dev/null c 1 3
mknod -m 0660 /dev/{tty} c {major} {minor}
chgrp dialout /dev/{tty} 2>/dev/null || true
mount -t tmpfs twinbeat-test /run
mount --bind "$RULES_DIR" /etc/udev/rules.d
"$UDEVADM" test --action=add {sysfs} > "$OUT/output" 2>&1 || true
readlink /dev/{link} > "$OUT/link" 2>/dev/null || true
stat -c '%a %u %g' /dev/{tty} > "$OUT/mode"
"""


def udev_run(tmp_path: Path, rules_text: str) -> Run:
    """`udevadm test --action=add` on ttyS0 with rules_text as the only local rules file."""
    udevadm = _udevadm()
    if not SYSFS_TTY.exists():
        pytest.skip(f"{SYSFS_TTY} does not exist: no on-board serial port to test the rules on")
    if os.geteuid() != 0:
        pytest.skip("needs root: the test runs udevadm in a private mount namespace")
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) not found")
    probe = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "true"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot create a private mount namespace: {probe.stderr.strip()}")
    major, minor = (SYSFS_TTY / "dev").read_text().strip().split(":")
    rules_dir = tmp_path / "rules.d"
    rules_dir.mkdir()
    (rules_dir / RULES_NAME).write_text(rules_text)
    out = tmp_path / "out"
    out.mkdir()
    script = _SCRIPT.format(tty=TTY, major=major, minor=minor, sysfs=SYSFS_TTY, link=LINK)
    proc = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c", script],
        env=dict(os.environ, RULES_DIR=str(rules_dir), UDEVADM=udevadm, OUT=str(out)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"setting up the namespace failed: {proc.stderr.strip()}"
    link = (out / "link").read_text().strip() or None
    return Run((out / "output").read_text(), link, (out / "mode").read_text().strip())


def parse_errors(output: str) -> list[str]:
    """Lines where udev complains about our file while reading it.

    Applied-rule trace lines start with the device ("ttyS0: /etc/udev/rules.d/60-...:29 MODE");
    parse errors start with the path ("/etc/udev/rules.d/60-...:3 Invalid key 'SYMLNK'").
    """
    return [
        line
        for line in output.splitlines()
        if RULES_NAME in line and not line.startswith(f"{TTY}:") and "Reading rules" not in line
    ]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Run:
    return udev_run(tmp_path_factory.mktemp("udev"), RULES.read_text())


def test_udevadm_reads_the_rules_without_complaint(shipped):
    assert f"Reading rules file: /etc/udev/rules.d/{RULES_NAME}" in shipped.output
    assert parse_errors(shipped.output) == []


def test_ttys0_gets_the_stable_name(shipped):
    assert f"DEVLINKS=/dev/{LINK}" in shipped.output.split()
    assert shipped.link == f"../{TTY}"


def test_ttys0_is_root_only_despite_50_udev_default(shipped):
    assert shipped.mode == "600 0 0"


def test_modemmanager_is_told_to_ignore_it(shipped):
    assert "ID_MM_DEVICE_IGNORE=1" in shipped.output.split()


# --- the checks above can fail ---------------------------------------------------------------


def test_a_misspelt_key_is_reported(tmp_path):
    broken = RULES.read_text().replace(
        'SYMLINK+="twinbeat/serial0"', 'SYMLNK+="twinbeat/serial0"', 1
    )
    run = udev_run(tmp_path, broken)
    assert parse_errors(run.output), run.output
    assert run.link is None


def test_a_rule_for_another_port_names_nothing(tmp_path):
    other = RULES.read_text().replace('KERNEL=="ttyS0"', 'KERNEL=="ttyS9"', 1)
    run = udev_run(tmp_path, other)
    assert run.link is None
    assert f"DEVLINKS=/dev/{LINK}" not in run.output.split()
    assert run.mode != "600 0 0"
