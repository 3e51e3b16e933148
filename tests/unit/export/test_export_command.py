"""`twinbeat export pacemaker`: files written 0600, warnings on stderr, bad input refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from export_helpers import MakeConfig

from twinbeat.cli import main


def run(*args: str) -> int:
    return main(["export", "pacemaker", *args])


def test_writes_the_files_and_says_what_was_lost(make_config: MakeConfig, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = make_config()
    out = tmp_path / "out"
    assert run("--config-dir", config.config_dir, "--node", "prime", "--output", str(out),
               "--format", "crm") == 0
    captured = capsys.readouterr()
    names = ["corosync.conf", "cib.xml", "cib.crm"]
    assert captured.out.splitlines() == [str(out / n) for n in names]
    for name in names:
        assert stat.S_IMODE(os.stat(out / name).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    assert f"{config.config_dir}/ha.cf:6: warning: serial /dev/ttyS0" in captured.err
    assert f"{config.config_dir}/ha.cf: warning: no fencing configured" in captured.err
    assert "<cib " in (out / "cib.xml").read_text()
    assert not list(out.glob(".*"))  # no temporary file left


def test_pcs_format(make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config()
    assert run("--config-dir", config.config_dir, "--node", "prime", "--output",
               str(tmp_path / "o"), "--format", "pcs") == 0
    script = (tmp_path / "o" / "cib-pcs.sh").read_text()
    assert script.startswith("#!/bin/sh\n") and 'pcs -f "$CIB" resource create' in script


def test_a_configuration_error_writes_nothing(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "ha.d"
    d.mkdir()
    (d / "ha.cf").write_text("keepalive 2\ndeadtime x\nbcast eth1\nnode prime\nnode calc\n")
    (d / "authkeys").write_text("auth 1\n1 sha256 0123456789abcdef\n")
    os.chmod(d / "authkeys", 0o600)
    assert run("--config-dir", str(d), "--node", "prime", "--output",
               str(tmp_path / "out")) == 1
    err = capsys.readouterr().err
    assert f"{d}/ha.cf:2: " in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("given", "why"), [
    ("calc", "not NODE=ADDR[,ADDR...]"),
    ("nobody=198.18.2.9", "nobody is not a node in ha.cf"),
    ("calc=198.18.2.2,", "not NODE=ADDR[,ADDR...]"),
])
def test_a_bad_address_option_is_one_line(make_config: MakeConfig, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str], given: str,
                                          why: str) -> None:
    config = make_config()
    assert run("--config-dir", config.config_dir, "--node", "prime", "--output",
               str(tmp_path / "out"), "--address", given) == 1
    err = capsys.readouterr().err
    assert err == f"twinbeat export: --address {given}: {why}\n"
    assert not (tmp_path / "out").exists()


def test_an_address_option_fills_the_nodelist(make_config: MakeConfig, tmp_path: Path) -> None:
    config = make_config()
    assert run("--config-dir", config.config_dir, "--node", "prime", "--output",
               str(tmp_path / "o"), "--address", "calc=198.18.2.2",
               "--address", "PRIME=198.18.2.1") == 0
    text = (tmp_path / "o" / "corosync.conf").read_text()
    assert "ring0_addr: 198.18.2.1" in text and "ring0_addr: 198.18.2.2" in text
