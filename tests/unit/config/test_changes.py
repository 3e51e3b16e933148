"""config/changes.py: what a reload changes in place, and what it refuses (issue #16)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twinbeat.config import Config, ConfigErrors, load
from twinbeat.config.changes import compare
from twinbeat.config.check import summary

HACF = """\
keepalive 100ms
deadtime 1
bcast eth1
serial /dev/ttyS0
node prime
node calc
auto_failback on
"""
KEY_A = "a" * 32
KEY_B = "b" * 32
AUTHKEYS = f"auth 1\n1 sha256 {KEY_A}\n"
HARESOURCES = "prime IPaddr::198.18.1.100/24/eth0 apache2\n"


@pytest.fixture
def config(tmp_path: Path):
    counter = iter(range(1000))

    def make(hacf: str = HACF, authkeys: str = AUTHKEYS, haresources: str = HARESOURCES,
             node: str = "prime") -> Config:
        d = tmp_path / f"ha{next(counter)}.d"
        d.mkdir()
        (d / "ha.cf").write_text(hacf)
        (d / "authkeys").write_text(authkeys)
        os.chmod(d / "authkeys", 0o600)
        (d / "haresources").write_text(haresources)
        return load(str(d), node=node)

    return make


def test_the_same_files_change_nothing(config) -> None:
    result = compare(config(), config())
    assert result.nothing and not result.refused
    assert result.groups.kept == ("IPaddr::198.18.1.100/24/eth0",)
    assert result.links.kept == ("eth1", "/dev/ttyS0")


def test_comments_and_spacing_change_nothing(config) -> None:
    result = compare(config(), config(hacf="# timers\n" + HACF.replace("keepalive 100ms",
                                                                          "keepalive   0.1")))
    assert result.nothing


def test_timers_and_auto_failback_are_applied_in_place(config) -> None:
    new = HACF.replace("keepalive 100ms", "keepalive 200ms").replace(
        "deadtime 1", "deadtime 2\nwarntime 1\ninitdead 12").replace(
        "auto_failback on", "auto_failback off")
    result = compare(config(), config(hacf=new))
    assert not result.refused
    assert result.changes == ("keepalive 100ms -> 200ms", "deadtime 1s -> 2s",
                              "warntime 500ms -> 1s", "auto_failback on -> off")


def test_links_added_removed_and_changed(config) -> None:
    new = HACF.replace("serial /dev/ttyS0", "serial /dev/ttyS1") + "baud 38400\n"
    result = compare(config(), config(hacf=new))
    assert result.links.added == ("/dev/ttyS1",)
    assert result.links.removed == ("/dev/ttyS0",)
    assert result.links.kept == ("eth1",)
    assert "link /dev/ttyS1: added" in result.changes
    assert "link /dev/ttyS0: removed" in result.changes
    assert not result.refused


def test_a_new_port_or_speed_or_link_id_changes_the_link(config) -> None:
    result = compare(config(), config(hacf=HACF + "udpport 695\nbaud 38400\n"))
    assert result.links.changed == ("eth1", "/dev/ttyS0")
    assert result.refused  # and then no link is left as it was
    reordered = HACF.replace("bcast eth1\n", "") + "bcast eth2\nbcast eth1\n"
    result = compare(config(), config(hacf=reordered))
    assert result.links.changed == ("eth1",)  # its link id moved from 0 to 1
    assert result.links.added == ("eth2",)


def test_changing_every_link_at_once_is_refused(config) -> None:
    new = HACF.replace("bcast eth1", "bcast eth2").replace("/dev/ttyS0", "/dev/ttyS1")
    result = compare(config(), config(hacf=new))
    assert result.refused
    assert result.refusals[0].startswith("no link stays as it is")


def test_groups_added_removed_and_redefined(config) -> None:
    old = config(haresources=HARESOURCES + "calc IPaddr::198.18.1.101/24/eth0\n"
                                           "calc IPaddr::198.18.1.102/24/eth0\n")
    new = config(haresources=HARESOURCES + "calc IPaddr::198.18.1.101/24/eth0 exim4\n"
                                           "prime IPaddr::198.18.1.103/24/eth0\n")
    result = compare(old, new)
    assert result.groups.added == ("IPaddr::198.18.1.103/24/eth0",)
    assert result.groups.removed == ("IPaddr::198.18.1.102/24/eth0",)
    assert result.groups.redefined == ("IPaddr::198.18.1.101/24/eth0",)
    assert result.groups.kept == ("IPaddr::198.18.1.100/24/eth0",)
    assert "group IPaddr::198.18.1.102/24/eth0: removed (stopped first where it runs)" \
        in result.changes
    assert not result.refused


def test_a_new_preferred_node_keeps_the_group(config) -> None:
    result = compare(config(), config(haresources=HARESOURCES.replace("prime", "calc", 1)))
    assert result.groups.kept == ("IPaddr::198.18.1.100/24/eth0",)
    assert result.changes == ("group IPaddr::198.18.1.100/24/eth0: preferred node calc "
                              "(was prime)",)


@pytest.mark.parametrize("line, setting", [
    ("logfile /var/log/ha-log", "logfile"),
    ("realtime off", "realtime"),
    ("watchdog /dev/watchdog", "watchdog"),
    ("garp_count 3", "garp_count"),
    ("peer_protocol twinbeat", "peer_protocol"),
])
def test_settings_of_the_process_need_a_restart(config, line: str, setting: str) -> None:
    result = compare(config(), config(hacf=HACF + line + "\n"))
    assert result.refused
    assert result.refusals[0].startswith(f"{setting}: needs a restart (")


def test_another_peer_needs_a_restart(config) -> None:
    result = compare(config(), config(hacf=HACF.replace("node calc", "node delta"),
                                      haresources=HARESOURCES))
    assert result.refusals == (
        "node list: the peer is now delta (was calc): needs a restart of both nodes (the "
        "peer's frames and generation are kept per name)",)


def test_a_new_signing_key_warns_that_the_peer_needs_it(config) -> None:
    old = config(authkeys=f"auth 1\n1 sha256 {KEY_A}\n")
    new = config(authkeys=f"auth 2\n1 sha256 {KEY_A}\n2 sha256 {KEY_B}\n")
    result = compare(old, new, peer_key=1)
    assert not result.refused
    assert result.changes == ("key 2 added (sha256)", "signing with key 2 (was 1)")
    assert result.warnings[0].startswith("the peer must already accept key 2")
    assert KEY_B not in " ".join(result.changes + result.warnings)


def test_dropping_the_key_the_peer_signs_with_is_refused(config) -> None:
    old = config(authkeys=f"auth 2\n1 sha256 {KEY_A}\n2 sha256 {KEY_B}\n")
    new = config(authkeys=f"auth 2\n2 sha256 {KEY_B}\n")
    assert compare(old, new, peer_key=1).refusals[0].startswith(
        "calc signs its frames with key 1, which the new authkeys no longer accepts")
    assert not compare(old, new, peer_key=2).refused  # the peer switched already
    assert not compare(old, new).refused  # unknown: `twinbeat check --diff DIR`
    changed = config(authkeys=f"auth 2\n1 sha256 {'c' * 32}\n2 sha256 {KEY_B}\n")
    assert compare(old, changed, peer_key=1).refused


def test_monitoring_fencing_and_ping_changes_are_named(config) -> None:
    new = config(hacf=HACF + "monitor_interval 10\nping 198.18.1.254\nfence_delay 5\n")
    result = compare(config(), new)
    assert not result.refused
    assert result.changes[0].startswith("monitoring settings changed")
    assert result.changes[1].startswith("fencing changed (0 -> 0 fencing line(s); fence_delay 5s")
    assert result.changes[2] == "ping nodes: 198.18.1.254"


def test_respawn_programs_started_and_stopped(config) -> None:
    old = config(hacf=HACF + "respawn nobody /bin/sleep 100\nrespawn nobody /bin/sleep 200\n")
    new = config(hacf=HACF + "respawn nobody /bin/sleep 200\nrespawn root /bin/sleep 300\n")
    result = compare(old, new)
    assert [r.text for r in result.respawn_added] == ["root /bin/sleep 300"]
    assert [r.text for r in result.respawn_removed] == ["nobody /bin/sleep 100"]
    assert result.changes == ("respawn: start root /bin/sleep 300",
                              "respawn: stop nobody /bin/sleep 100")


def test_check_lists_the_respawn_programs(config) -> None:
    lines = summary(config(hacf=HACF + "respawn nobody /bin/sleep 100\n"))
    assert "respawn:  nobody /bin/sleep 100" in lines


@pytest.mark.parametrize("line, error", [
    ("respawn no-such-user-here /bin/sleep 1", "respawn: invalid user no-such-user-here (no "
                                               "such user on this machine)"),
    ("respawn nobody /nonexistent/agent", "respawn: client child command /nonexistent/agent "
                                          "is not executable"),
    ("respawn nobody /etc/passwd", "respawn: client child command /etc/passwd is not "
                                   "executable"),
])
def test_a_respawn_line_that_cannot_run_here_is_an_error(config, line: str,
                                                         error: str) -> None:
    with pytest.raises(ConfigErrors) as caught:
        config(hacf=HACF + line + "\n")
    assert [m.text for m in caught.value.messages] == [error]
    assert caught.value.messages[0].line == len(HACF.splitlines()) + 1


def test_a_new_metrics_endpoint_needs_a_restart(config) -> None:
    result = compare(config(), config(hacf=HACF + "metrics 127.0.0.1:9744\n"))
    assert result.refusals == (
        "metrics: needs a restart (the endpoint is opened at start-up)",)
