"""ha.cf `peer_protocol` (twinbeat's own, issue #14): the protocol spoken to the peer."""

from __future__ import annotations

import pytest
from config_helpers import lines_of, texts

from twinbeat.config.hacf import parse_hacf
from twinbeat.config.messages import Report
from twinbeat.config.model import HaCf

PATH = "/etc/ha.d/ha.cf"
BASE = "node prime calc\nbcast eth0\n"  # the line under test is line 3


def parse(text: str) -> tuple[HaCf, Report]:
    lines, report = lines_of(BASE + text, PATH)
    return parse_hacf(lines, PATH, report), report


def test_auto_by_default() -> None:
    hacf, report = parse("")
    assert hacf.peer_protocol == "auto" and report.errors == []


@pytest.mark.parametrize("word", ["auto", "twinbeat", "heartbeat"])
def test_each_protocol(word: str) -> None:
    hacf, report = parse(f"peer_protocol {word}\n")
    assert hacf.peer_protocol == word and report.errors == []


@pytest.mark.parametrize(("text", "problem"), [
    ("peer_protocol native\n", f"{PATH}:3: peer_protocol native: use auto, twinbeat or heartbeat"),
    ("peer_protocol heartbeat\npeer_protocol auto\n", "given twice (line 3)"),
])
def test_errors(text: str, problem: str) -> None:
    _, report = parse(text)
    assert len(report.errors) == 1 and problem in texts(report.errors)[0]
