"""`twinbeat check` through the real CLI entry point: exit codes and output."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from config_helpers import HOWTO_HACF, HOWTO_KEY

from twinbeat.cli import main

EXAMPLE_DIR = Path(__file__).resolve().parents[3] / "etc" / "ha.d"


def test_howto_passes(write_dir, capsys) -> None:
    d = write_dir()
    assert main(["check", "--config-dir", d, "--node", "prime"]) == 0
    out, err = capsys.readouterr()
    assert "configuration OK for node prime" in out
    assert "nodes:    calc, prime (this node)" in out
    assert "eth0 (bcast, port 694; link id 0x00)" in out
    assert "keepalive 2s, deadtime 10s, warntime 5s, initdead 20s" in out
    assert "group:    198.18.1.100 (preferred node prime): 198.18.1.100 apache2" in out
    assert f"{d}/ha.cf: warning: auto_failback legacy" in err
    assert HOWTO_KEY not in out + err


def test_errors_exit_1_with_every_error(write_dir, capsys) -> None:
    d = write_dir(hacf=HOWTO_HACF + "deadtime 10s\nfrobnicate\n", mode=0o644,
                  haresources="prime 198.18.1.300 apache2\n")
    assert main(["check", "--config-dir", d, "--node", "prime"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{d}/ha.cf:10: deadtime 10s: bad time value (use a number of seconds, or Nms / " \
           "Nus)\n" in err
    assert f"{d}/ha.cf:11: frobnicate: unknown directive" in err
    assert f"{d}/authkeys: bad permissions 0644 (group/other may read or write it); 600 " \
           "recommended\n" in err
    assert f"{d}/haresources:1: 198.18.1.300: bad IPv4 address" in err
    assert "4 error(s)" in err
    assert HOWTO_KEY not in err
    assert "Traceback" not in err


def test_missing_node_is_reported(write_dir, capsys) -> None:
    assert main(["check", "--config-dir", write_dir(), "--node", "sirius"]) == 1
    assert "current node sirius not in configuration" in capsys.readouterr().err


def test_missing_config_dir(tmp_path: Path, capsys) -> None:
    assert main(["check", "--config-dir", str(tmp_path / "none"), "--node", "prime"]) == 1
    assert f"{tmp_path}/none: no such directory" in capsys.readouterr().err


def test_warns_when_a_script_resource_is_nowhere(write_dir, capsys) -> None:
    d = write_dir(haresources="prime 198.18.1.100 no-such-service-xyz\n")
    assert main(["check", "--config-dir", d, "--node", "prime"]) == 0
    err = capsys.readouterr().err
    assert (f"{d}/haresources:1: warning: no-such-service-xyz: not found on this machine "
            f"(looked for {d}/resource.d/no-such-service-xyz, /etc/init.d/no-such-service-xyz, "
            "no-such-service-xyz.service)") in err


def test_says_where_a_script_resource_is_found(write_dir, capsys) -> None:
    d = write_dir(haresources="prime 198.18.1.100 myweb\n")
    os.mkdir(os.path.join(d, "resource.d"))
    script = os.path.join(d, "resource.d", "myweb")
    Path(script).write_text("#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o755)
    assert main(["check", "--config-dir", d, "--node", "prime"]) == 0
    assert f"myweb: {script} (resource.d)" in capsys.readouterr().out


@pytest.mark.parametrize("node", ["prime", "calc"])
def test_shipped_example_passes(tmp_path: Path, capsys, node: str) -> None:
    d = tmp_path / "ha.d"
    shutil.copytree(EXAMPLE_DIR, d)
    os.chmod(d / "authkeys", 0o600)  # git does not keep the mode; installing sets it
    assert main(["check", "--config-dir", str(d), "--node", node]) == 0
    out, err = capsys.readouterr()
    assert "eth1 (bcast, port 694; link id 0x00); /dev/ttyS0 (serial, 19200 baud; " \
           "link id 0x80)" in out
    assert "auto_failback on" in out
    assert "IPaddr::198.18.1.100/24/eth0 (preferred node prime)" in out
    assert "ha.cf" not in err  # no warning at all from the example ha.cf


def test_shipped_example_without_0600_is_refused(tmp_path: Path, capsys) -> None:
    d = tmp_path / "ha.d"
    shutil.copytree(EXAMPLE_DIR, d)
    os.chmod(d / "authkeys", 0o644)
    assert main(["check", "--config-dir", str(d), "--node", "prime"]) == 1
    assert "bad permissions 0644" in capsys.readouterr().err
