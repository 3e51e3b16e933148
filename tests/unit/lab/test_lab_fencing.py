"""The lab's fencing pieces that need no system: the ha.cf lines it writes (they must parse
as twinbeat reads them) and the switch client's protocol handling (lab/fence_tblab.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from twinbeat.config.fencecheck import parameters_from_metadata
from twinbeat.config.hacf import parse_hacf
from twinbeat.config.messages import Report
from twinbeat.config.model import FenceAction, FenceAgent, StonithHost
from twinbeat.config.source import decode_lines
from twinbeat.lab import fence_tblab
from twinbeat.lab.errors import LabError
from twinbeat.lab.fencing import FenceSetup

RUN = Path("/run/twinbeat-lab/tb")


def parsed(text: str):
    report = Report()
    hacf = parse_hacf(decode_lines(("node prime calc\nbcast eth1\n" + text).encode(), "ha.cf",
                                   report), "ha.cf", report)
    assert report.errors == []
    return hacf.fencing


def test_the_agent_lines_parse() -> None:
    fencing = parsed(FenceSetup("agent", delay="2").hacf_lines(RUN, "pw"))
    assert (fencing.action, fencing.delay, fencing.timeout) == (FenceAction.OFF, 2.0, 20.0)
    assert fencing.devices == (FenceAgent("*", f"{RUN}/bin/fence_tblab", (
        ("socket", f"{RUN}/switch.sock"), ("password_file", f"{RUN}/switch.secret")), 7),)


def test_the_stonith_lines_parse() -> None:
    fencing = parsed(FenceSetup("stonith", action="reboot").hacf_lines(RUN, "pw"))
    assert fencing.action is FenceAction.REBOOT
    assert fencing.devices == (StonithHost("*", "external/tblab", f"{RUN}/switch.sock pw", 6),)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(LabError, match="fencing 'ipmi': use agent or stonith"):
        FenceSetup("ipmi")


def test_the_agents_metadata_says_it_takes_a_plug(capsys) -> None:
    assert fence_tblab.main(["fence_tblab", "-o", "metadata"]) == 0
    names = parameters_from_metadata(capsys.readouterr().out.encode())
    assert names is not None and {"plug", "port", "socket", "password", "action"} <= names


def test_agent_options_from_stdin() -> None:
    assert fence_tblab.agent_options(["fence_tblab"], "action=off\n# c=1\nplug = calc \nx\n") \
        == {"action": "off", "plug": "calc"}


@pytest.mark.parametrize(("options", "problem"), [
    ({"action": "explode"}, "unsupported action explode"),
    ({"action": "off", "socket": "/s"}, "option password is required"),
    ({"action": "off", "socket": "/s", "password": "p"}, "no plug (the lab node) given"),
])
def test_agent_refusals(options: dict[str, str], problem: str, capsys) -> None:
    assert fence_tblab.agent(options) == 1
    assert capsys.readouterr().err.strip() == f"Failed: {problem}"


def test_an_unreachable_switch_fails(tmp_path: Path, capsys) -> None:
    options = {"action": "off", "plug": "calc", "socket": str(tmp_path / "none"),
               "password": "p"}
    assert fence_tblab.agent(options) == 1
    assert capsys.readouterr().err.startswith(f"Failed: switch {tmp_path}/none: ")


def test_the_plugins_info_operations(capsys) -> None:
    assert fence_tblab.main(["tblab", "getconfignames"]) == 0
    assert capsys.readouterr().out.split() == ["socket", "password"]
    assert fence_tblab.main(["tblab", "getinfo-xml"]) == 0
    assert "<parameters>" in capsys.readouterr().out


def test_the_client_needs_nothing_of_twinbeat() -> None:
    # It runs under the system's python3, outside twinbeat's venv.
    source = Path(fence_tblab.__file__).read_text()
    assert "twinbeat" not in "".join(line for line in source.splitlines()
                                     if line.startswith(("import", "from")))
    assert source.startswith("#!/usr/bin/python3\n") and sys.version_info >= (3, 11)
