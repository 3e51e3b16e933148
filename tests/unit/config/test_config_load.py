"""load(): the how-to files to the expected model, cross-file rules, fingerprint."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from config_helpers import HOWTO_HACF, HOWTO_KEY, texts

from twinbeat.config import (
    AuthKey,
    AuthKeys,
    AutoFailback,
    Bcast,
    Config,
    ConfigErrors,
    Group,
    IPaddrResource,
    Link,
    ScriptResource,
    load,
)
from twinbeat.config.fingerprint import canonical_text


def test_howto_files_parse_to_the_expected_model(write_dir) -> None:
    d = write_dir()
    config = load(d, node="prime")
    assert isinstance(config, Config)
    assert config.config_dir == d
    hacf = config.hacf
    assert (config.node, hacf.nodes, config.peer) == ("prime", ("calc", "prime"), "calc")
    assert (hacf.keepalive, hacf.deadtime, hacf.warntime, hacf.initdead) == (
        2.0, 10.0, 5.0, 20.0)
    assert (hacf.udpport, hacf.baud) == (694, 19200)
    assert hacf.links == (Link("eth0", 0, Bcast("eth0")),)
    assert hacf.auto_failback is AutoFailback.LEGACY
    assert hacf.auto_failback.fails_back
    assert (hacf.logfile, hacf.debugfile, hacf.logfacility) == (
        "/var/log/ha-log", "/var/log/ha-debug", "local0")
    assert config.authkeys == AuthKeys(1, {1: AuthKey(1, "md5", HOWTO_KEY.encode())})
    assert config.groups == (Group(
        "198.18.1.100", "prime",
        (IPaddrResource("IPaddr", "198.18.1.100", None, None, None, "198.18.1.100"),
         ScriptResource("apache2", (), "apache2")),
        os.path.join(d, "haresources"), 1),)
    assert 0 <= config.fingerprint < 2**32
    assert [w.text for w in config.warnings] == [
        "auto_failback legacy (the default) is deprecated; treated as auto_failback on"]


def test_model_is_frozen(write_dir) -> None:
    config = load(write_dir(), node="prime")
    with pytest.raises(AttributeError):
        config.node = "calc"  # type: ignore[misc]


def test_node_name_is_lower_cased(write_dir) -> None:
    assert load(write_dir(), node="PRIME").node == "prime"


def test_local_node_defaults_to_the_host_name(write_dir) -> None:
    host = os.uname().nodename.lower()
    config = load(write_dir(hacf=HOWTO_HACF.replace("node calc", f"node {host}")))
    assert config.node == host


def test_local_node_must_be_listed(write_dir) -> None:
    d = write_dir()
    with pytest.raises(ConfigErrors) as exc:
        load(d, node="sirius")
    assert texts(exc.value.messages) == [
        f"{d}/ha.cf: current node sirius not in configuration (add `node sirius`, or "
        "pass --node)"]


def test_bad_authkeys_mode_is_refused(write_dir) -> None:
    d = write_dir(mode=0o644)
    with pytest.raises(ConfigErrors) as exc:
        load(d, node="prime")
    assert texts(exc.value.messages) == [
        f"{d}/authkeys: bad permissions 0644 (group/other may read or write it); "
        "600 recommended"]
    assert HOWTO_KEY not in str(exc.value)


def test_errors_from_all_three_files_are_collected(write_dir) -> None:
    d = write_dir(hacf=HOWTO_HACF + "deadtime 10s\n", authkeys="auth 1\n1 crc x\n",
                  haresources="prime 198.18.1.300\n")
    with pytest.raises(ConfigErrors) as exc:
        load(d, node="prime")
    files = [os.path.basename(m.path) for m in exc.value.messages]
    assert files == ["ha.cf", "authkeys", "haresources"]


def test_missing_files_and_directory(write_dir, tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors) as exc:
        load(str(tmp_path / "nowhere"))
    assert texts(exc.value.messages) == [f"{tmp_path}/nowhere: no such directory"]
    d = write_dir(hacf=None, authkeys=None, haresources=None)
    with pytest.raises(ConfigErrors) as exc:
        load(d, node="prime")
    assert f"{d}/ha.cf: no such file" in texts(exc.value.messages)
    assert f"{d}/authkeys: no such file" in texts(exc.value.messages)


def test_missing_haresources_is_only_a_warning(write_dir) -> None:
    config = load(write_dir(haresources=None), node="prime")
    assert config.groups == ()
    assert any("no resource groups" in w.text for w in config.warnings)


def test_unreadable_file_is_an_error(write_dir) -> None:
    d = write_dir()
    os.remove(os.path.join(d, "haresources"))
    os.mkdir(os.path.join(d, "haresources"))
    with pytest.raises(ConfigErrors) as exc:
        load(d, node="prime")
    assert texts(exc.value.messages) == [f"{d}/haresources: is a directory, not a file"]


def test_no_log_directives_means_stderr_not_an_error(write_dir) -> None:
    config = load(write_dir(hacf="keepalive 2\ndeadtime 10\nbcast eth0\nnode prime calc\n"),
                  node="prime")
    assert config.hacf.logfile is None and config.hacf.logfacility is None
    assert any("logs to stderr" in w.text for w in config.warnings)


def test_fingerprint_ignores_comments_spacing_and_node_order(write_dir, tmp_path) -> None:
    a = load(write_dir(), node="prime").fingerprint
    other = tmp_path / "other"
    other.mkdir()
    (other / "ha.cf").write_text(HOWTO_HACF.replace("node calc\nnode prime\n",
                                                    "node prime # first\nnode CALC\n"))
    (other / "authkeys").write_text("auth 2\n2 sha256 another-key-0123456789\n")
    os.chmod(other / "authkeys", 0o600)
    (other / "haresources").write_text("# web\nprime   198.18.1.100 \\\n\tapache2  # svc\n")
    assert load(str(other), node="calc").fingerprint == a


def test_fingerprint_changes_with_groups_or_nodes(write_dir) -> None:
    base = load(write_dir(), node="prime")
    changed = load(write_dir(haresources="calc 198.18.1.100 apache2\n"), node="prime")
    assert changed.fingerprint != base.fingerprint
    other = load(write_dir(hacf=HOWTO_HACF.replace("node calc", "node sirius"),
                           haresources="prime 198.18.1.100 apache2\n"), node="prime")
    assert other.fingerprint != base.fingerprint


def test_canonical_text_is_stable(write_dir) -> None:
    config = load(write_dir(), node="prime")
    assert canonical_text(config.hacf.nodes, config.groups) == (
        "twinbeat-fingerprint-1\nnodes calc prime\ngroup prime 198.18.1.100 apache2\n")
