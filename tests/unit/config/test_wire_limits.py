"""The wire's limits are refused when the files are read, not at the first heartbeat.

A node name the codec cannot carry, a third node or a 65th group used to pass `twinbeat
check` and then crash the daemon on its first `wire.encode`. They are now `path:line`
errors from `load()`, so `twinbeat check` and `twinbeat run` both refuse them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest
from config_helpers import HOWTO_HACF, texts

from twinbeat.cli import main as cli_main
from twinbeat.config import ConfigErrors, limits, load
from twinbeat.daemon import start
from twinbeat.wire._lib import lib

LONG = "n" * 70
THIRD_NODE = (
    "node dana: twinbeat runs two-node clusters (the wire carries one peer); for three or "
    "more nodes move to Pacemaker/Corosync (docs/migrating.md)"
)


def _errors(d: str, node: str = "prime") -> list[str]:
    with pytest.raises(ConfigErrors) as exc:
        load(d, node=node)
    return texts(exc.value.messages)


# -- node names --------------------------------------------------------------------------


def test_a_node_name_longer_than_64_characters_is_refused(write_dir) -> None:
    d = write_dir(hacf=HOWTO_HACF.replace("node calc", f"node {LONG}"))
    assert _errors(d) == [
        f"{d}/ha.cf:8: node {'n' * 37}...: bad node name (1-64 printable ASCII characters, "
        "no spaces: the wire's limit)"]


def test_a_node_name_of_64_characters_is_accepted(write_dir) -> None:
    name = "n" * 64
    d = write_dir(hacf=HOWTO_HACF.replace("node calc", f"node {name}"))
    assert load(d, node="prime").peer == name


@pytest.mark.parametrize("name", ["nœud", "caf\u00e9", "tab\x7fdel"])
def test_a_node_name_outside_printable_ascii_is_refused(write_dir, name: str) -> None:
    d = write_dir(hacf=HOWTO_HACF.replace("node calc", f"node {name}"))
    errors = _errors(d)
    assert len(errors) == 1 and errors[0].startswith(f"{d}/ha.cf:8: node ")
    assert errors[0].endswith("bad node name (1-64 printable ASCII characters, no spaces: "
                              "the wire's limit)")


# -- two nodes ---------------------------------------------------------------------------


def test_a_third_node_line_is_refused_naming_the_way_out(write_dir) -> None:
    d = write_dir(hacf=HOWTO_HACF + "node dana\n")
    assert _errors(d) == [f"{d}/ha.cf:10: {THIRD_NODE}"]


def test_a_third_node_on_one_line_is_refused(write_dir) -> None:
    d = write_dir(hacf=HOWTO_HACF.replace("node calc\nnode prime\n", "node calc prime dana\n"))
    assert _errors(d) == [f"{d}/ha.cf:8: {THIRD_NODE}"]


def test_one_node_named_twice_stays_a_warning(write_dir) -> None:
    config = load(write_dir(hacf=HOWTO_HACF + "node CALC\n"), node="prime")
    assert "node calc: already listed (line 8)" in [w.text for w in config.warnings]
    assert config.peer == "calc"


def test_a_single_node_file_is_accepted_without_a_peer(write_dir) -> None:
    config = load(write_dir(hacf=HOWTO_HACF.replace("node calc\n", "")), node="prime")
    assert config.peer is None


# -- groups ------------------------------------------------------------------------------


def _groups(n: int) -> str:
    return "".join(f"prime 198.18.{1 + i // 250}.{1 + i % 250}\n" for i in range(n))


def test_64_groups_are_accepted(write_dir) -> None:
    assert len(load(write_dir(haresources=_groups(64)), node="prime").groups) == 64


def test_a_65th_group_is_refused_at_its_line(write_dir) -> None:
    d = write_dir(haresources="# comment\n" + _groups(66))
    assert _errors(d) == [
        f"{d}/haresources:66: too many groups: twinbeat carries at most 64 (the wire's "
        "limit); put resources that always move together in one group"]


# -- both commands refuse ----------------------------------------------------------------


def test_check_refuses_a_long_node_name(write_dir, capsys) -> None:
    d = write_dir(hacf=HOWTO_HACF.replace("node calc", f"node {LONG}"))
    assert cli_main(["check", "--config-dir", d, "--node", "prime"]) == 1
    assert f"{d}/ha.cf:8: node " in capsys.readouterr().err


def test_run_refuses_a_65th_group_before_starting(write_dir, tmp_path, capsys,
                                                  monkeypatch) -> None:
    def must_not_start(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the daemon started with a configuration it cannot carry")

    monkeypatch.setattr(start.trio, "run", must_not_start)
    monkeypatch.setattr(start, "start_generation", must_not_start)
    d = write_dir(haresources=_groups(65))
    args = argparse.Namespace(config_dir=d, node="prime", run_dir=str(tmp_path / "run"),
                              state_dir=str(tmp_path / "state"), foreground=False)
    assert start.main(args) == 1
    err = capsys.readouterr().err
    assert f"{d}/haresources:65: too many groups" in err
    assert "not started: configuration error" in err


# -- the constants are the wire's ----------------------------------------------------------


def test_config_limits_equal_the_wire_constants() -> None:
    assert limits.MAX_NODE_NAME == lib.TB_MAX_NAME
    assert limits.MAX_GROUPS == lib.TB_MAX_GROUPS


def test_config_does_not_import_the_wire_extension() -> None:
    """`twinbeat check` must work where the C extension is not built."""
    code = ("import sys, twinbeat.config, twinbeat.config.check; "
            "sys.exit(1 if any(m.startswith('twinbeat.wire') for m in sys.modules) else 0)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env, check=False).returncode == 0
