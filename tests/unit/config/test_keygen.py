"""`twinbeat keygen`: a fresh sha256 authkeys file, mode 0600, never overwritten by accident."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from twinbeat.cli import main
from twinbeat.config.authkeys import parse_authkeys
from twinbeat.config.messages import Report
from twinbeat.config.source import decode_lines


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_a_0600_sha256_authkeys(tmp_path: Path, capsys) -> None:
    path = tmp_path / "authkeys"
    old = os.umask(0)  # even a permissive umask must not widen the mode
    try:
        assert main(["keygen", str(path)]) == 0
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    text = path.read_text()
    match = re.search(r"^auth 1\n1 sha256 ([0-9a-f]{64})\n\Z", text, re.MULTILINE)
    assert match is not None
    out, err = capsys.readouterr()
    assert match.group(1) not in out + err and err == ""
    report = Report()
    keys = parse_authkeys(decode_lines(path.read_bytes(), str(path), report), str(path), report)
    assert report.errors == [] and report.warnings == []
    assert keys is not None and keys.keys[1].key == match.group(1).encode()


def test_two_keys_differ(tmp_path: Path) -> None:
    assert main(["keygen", str(tmp_path / "a")]) == 0
    assert main(["keygen", str(tmp_path / "b")]) == 0
    assert (tmp_path / "a").read_text() != (tmp_path / "b").read_text()


def test_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    path = tmp_path / "authkeys"
    path.write_text("keep me\n")
    assert main(["keygen", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"{path}: already exists; not overwritten (use --force to replace it)\n"
    assert path.read_text() == "keep me\n"


def test_force_replaces_and_fixes_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "authkeys"
    path.write_text("old\n")
    os.chmod(path, 0o644)
    assert main(["keygen", str(path), "--force"]) == 0
    assert "sha256" in path.read_text() and _mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["authkeys"]  # no temp file left


def test_unwritable_place_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["keygen", str(tmp_path / "missing-dir" / "authkeys")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write" in err


def test_nul_in_path_is_one_line(capsys) -> None:
    assert main(["keygen", "/tmp/a\x00b"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
