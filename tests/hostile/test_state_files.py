"""Corrupt state files refuse `twinbeat run` with one line naming the file, and change nothing.

The generation counter (`<state-dir>/generation`) is read before anything else happens: a
corrupt one (a disk error, a hand edit, an interrupted restore) must stop the start with a
message an operator can act on, not a traceback, and must not be "repaired" by guessing (a
reused generation would let old frames pass as new, docs/internals.md).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HA_CF = (
    "keepalive 1\ndeadtime 5\ninitdead 10\nbcast tbnosuch0\nnode prime\nnode calc\n"
    "auto_failback on\nrealtime off\n")


def config_dir(tmp_path):
    conf = tmp_path / "ha.d"
    conf.mkdir()
    (conf / "ha.cf").write_text(HA_CF)
    (conf / "authkeys").write_text("auth 1\n1 sha256 " + "ab" * 32 + "\n")
    os.chmod(conf / "authkeys", 0o600)
    (conf / "haresources").write_text("prime 198.18.1.100\n")
    return conf


@pytest.mark.parametrize("content", [b"\xff\xfe\x80\n", b"", b"-1\n", b"12abc\n"],
                         ids=["non-utf8", "empty", "negative", "non-numeric"])
def test_run_with_a_corrupt_generation_file_is_refused_in_one_line(tmp_path, content):
    state, run = tmp_path / "state", tmp_path / "run"
    state.mkdir()
    generation = state / "generation"
    generation.write_bytes(content)
    conf = config_dir(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "twinbeat", "run", "--config-dir", str(conf),
         "--node", "prime", "--state-dir", str(state), "--run-dir", str(run), "--foreground"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    # The config's own warnings (path:line: ...) come first; then exactly one line.
    lines = [line for line in result.stderr.splitlines() if not line.startswith(f"{conf}/")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"twinbeat: not started: {generation}: "), lines
    assert generation.read_bytes() == content
    assert sorted(p.name for p in state.iterdir()) == ["generation"]
    assert not (run / "control.sock").exists()
