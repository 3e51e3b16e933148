"""The Debian `heartbeat` package's example files parse with warnings only.

Skipped when the package is not installed (CI does not depend on it). The examples are
all comments, so the test also un-comments every directive line in them: every directive
heartbeat's own example documents must be accepted (maybe with a warning), never refused.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import pytest
from config_helpers import lines_of, texts

from twinbeat.config import load
from twinbeat.config.authkeys import parse_authkeys
from twinbeat.config.hacf import parse_hacf
from twinbeat.config.haresources import parse_haresources

DOC = Path("/usr/share/doc/heartbeat")
HA_CF = DOC / "ha.cf.gz"
HARESOURCES = DOC / "haresources.gz"
AUTHKEYS = DOC / "authkeys"

needs_package = pytest.mark.skipif(
    not (HA_CF.exists() and HARESOURCES.exists()),
    reason="Debian heartbeat example files absent (apt-get install heartbeat to run this)",
)
DIRECTIVE_LINE = re.compile(r"^#([a-z_]+\s.*)$", re.MULTILINE)


def _text(path: Path) -> str:
    return gzip.decompress(path.read_bytes()).decode("utf-8")


@needs_package
def test_example_files_as_shipped_have_no_errors() -> None:
    lines, report = lines_of(_text(HA_CF), str(HA_CF))
    parse_hacf(lines, str(HA_CF), report)
    # As shipped every directive is commented out: only the whole-file rules fire.
    assert sorted(m.text.split(" (")[0] for m in report.errors) == [
        "no heartbeat media defined", "no nodes defined"]
    lines, report = lines_of(_text(HARESOURCES), str(HARESOURCES))
    assert parse_haresources(lines, str(HARESOURCES), report, ("prime", "calc")) == ()
    assert report.errors == []


@needs_package
def test_every_documented_directive_is_accepted() -> None:
    text = DIRECTIVE_LINE.sub(r"\1", _text(HA_CF))
    lines, report = lines_of(text, str(HA_CF))
    hacf = parse_hacf(lines, str(HA_CF), report)
    assert texts(report.errors) == []
    assert hacf.nodes == ("ken3", "kathy")
    assert {link.name for link in hacf.links} >= {"eth0", "eth1", "eth2", "/dev/ttyS0"}
    assert report.warnings  # stonith, apiauth, msgfmt... are ignored, with a warning


@needs_package
def test_documented_haresources_lines_are_accepted() -> None:
    text = DIRECTIVE_LINE.sub(r"\1", _text(HARESOURCES))
    text = re.sub(r"^#(just\.linux-ha\.org|node1)(\s)", r"\1\2", text, flags=re.MULTILINE)
    lines, report = lines_of(text, str(HARESOURCES))
    groups = parse_haresources(lines, str(HARESOURCES), report, ())
    assert groups  # they use 135.9.216.110 again and again, so only check the forms:
    assert all("bad" not in e.text and "name" not in e.text for e in report.errors)


@pytest.mark.skipif(not AUTHKEYS.exists(), reason="Debian heartbeat authkeys example absent")
def test_example_authkeys_uncommented_is_valid() -> None:
    text = AUTHKEYS.read_text().replace("#auth 1", "auth 1")
    text = re.sub(r"^#(\d )", r"\1", text, flags=re.MULTILINE)
    lines, report = lines_of(text, str(AUTHKEYS))
    keys = parse_authkeys(lines, str(AUTHKEYS), report)
    assert report.errors == []
    assert keys is not None and {k.method for k in keys.keys.values()} == {"crc", "sha1", "md5"}


@needs_package
def test_example_directory_with_nodes_and_a_medium_loads(tmp_path: Path) -> None:
    (tmp_path / "ha.cf").write_text(_text(HA_CF) + "\nnode prime calc\nbcast eth0\n")
    (tmp_path / "haresources").write_text(_text(HARESOURCES) + "\nprime 198.18.1.100\n")
    (tmp_path / "authkeys").write_text("auth 1\n1 sha256 0123456789abcdef0123456789\n")
    os.chmod(tmp_path / "authkeys", 0o600)
    config = load(str(tmp_path), node="prime")
    assert [g.key for g in config.groups] == ["198.18.1.100"]
