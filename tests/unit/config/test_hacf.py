"""ha.cf parsing: one test per rule of issue #2 and per error path."""

from __future__ import annotations

import pytest
from config_helpers import HOWTO_HACF, lines_of, texts

from twinbeat.config.hacf import IGNORED, HaCf, parse_hacf
from twinbeat.config.messages import Report
from twinbeat.config.model import AutoFailback, Bcast, Link, Mcast, Serial, Ucast

BASE = "node prime calc\nbcast eth0\n"


def parse(text: str) -> tuple[HaCf, Report]:
    lines, report = lines_of(text, "/etc/ha.d/ha.cf")
    return parse_hacf(lines, "/etc/ha.d/ha.cf", report), report


def errors(text: str) -> list[str]:
    return texts(parse(text)[1].errors)


def warnings(text: str) -> list[str]:
    return texts(parse(text)[1].warnings)


def test_howto_file() -> None:
    hacf, report = parse(HOWTO_HACF)
    assert report.errors == []
    assert hacf.nodes == ("calc", "prime")
    assert (hacf.keepalive, hacf.deadtime, hacf.warntime, hacf.initdead) == (2, 10, 5, 20)
    assert hacf.udpport == 694
    assert hacf.links == (Link("eth0", 0, Bcast("eth0")),)
    assert (hacf.logfile, hacf.debugfile, hacf.logfacility) == (
        "/var/log/ha-log", "/var/log/ha-debug", "local0")


def test_defaults_are_heartbeats() -> None:
    hacf, report = parse(BASE)
    assert report.errors == []
    assert (hacf.keepalive, hacf.deadtime, hacf.warntime, hacf.initdead) == (1, 30, 15, 30)
    assert (hacf.udpport, hacf.baud) == (694, 19200)
    assert hacf.realtime is True
    assert hacf.watchdog is None
    assert hacf.auto_failback is AutoFailback.LEGACY
    assert any("legacy" in w and "treated as auto_failback on" in w for w in
               texts(report.warnings))


@pytest.mark.parametrize(("deadtime", "initdead"), [(30, 30), (11, 11), (10, 20), (6, 12),
                                                    (5, 12), (3, 12)])
def test_initdead_derived_from_deadtime(deadtime: int, initdead: int) -> None:
    hacf, report = parse(BASE + f"keepalive 1\ndeadtime {deadtime}\n")
    assert report.errors == []
    assert hacf.initdead == initdead


@pytest.mark.parametrize(("token", "seconds"), [("2", 2.0), ("1.5", 1.5), ("500ms", 0.5),
                                                ("250000us", 0.25), ("100000usec", 0.1),
                                                ("200MS", 0.2)])
def test_time_units(token: str, seconds: float) -> None:
    hacf, report = parse(BASE + f"keepalive {token}\ndeadtime 10\n")
    assert report.errors == []
    assert hacf.keepalive == pytest.approx(seconds)


@pytest.mark.parametrize("token", ["10s", "1m", "-1", "abc", "1.2.3", "ms"])
def test_bad_time_value_names_file_and_line(token: str) -> None:
    assert errors(BASE + f"deadtime {token}\n") == [
        f"/etc/ha.d/ha.cf:3: deadtime {token}: bad time value (use a number of seconds, "
        "or Nms / Nus)"
    ]


def test_zero_keepalive_is_an_error() -> None:
    assert any(":3: keepalive 0: must be greater than 0" in e
               for e in errors(BASE + "keepalive 0\n"))


def test_warntime_given_is_kept() -> None:
    hacf, _ = parse(BASE + "deadtime 10\nwarntime 3\n")
    assert hacf.warntime == 3


def test_deadtime_must_exceed_twice_keepalive() -> None:
    assert errors(BASE + "keepalive 5\ndeadtime 10\n") == [
        "/etc/ha.d/ha.cf:4: deadtime 10s must be more than twice keepalive 5s"
    ]
    assert errors(BASE + "keepalive 4\ndeadtime 10\n") == []


def test_initdead_must_not_be_below_deadtime() -> None:
    assert errors(BASE + "deadtime 20\ninitdead 15\n") == [
        "/etc/ha.d/ha.cf:4: initdead 15s is smaller than deadtime 20s"
    ]


def test_comment_mid_line_and_case_insensitive_directives() -> None:
    hacf, report = parse("NODE Prime # the web server\nNode CALC\nBCast eth0 # eth1\n"
                         "KeepAlive 2#comment right after\ndeadtime 10\n")
    assert report.errors == []
    assert hacf.nodes == ("prime", "calc")
    assert [link.name for link in hacf.links] == ["eth0"]
    assert hacf.keepalive == 2


def test_tokens_split_on_commas_and_tabs() -> None:
    hacf, report = parse("node prime,calc\nbcast\teth0, eth1\n")
    assert report.errors == []
    assert hacf.nodes == ("prime", "calc")
    assert [link.name for link in hacf.links] == ["eth0", "eth1"]


def test_at_least_one_medium() -> None:
    assert errors("node prime calc\n") == [
        "/etc/ha.d/ha.cf: no heartbeat media defined (add bcast, ucast, mcast or serial)"
    ]


def test_no_nodes_is_an_error() -> None:
    assert any("no nodes defined" in e for e in errors("bcast eth0\n"))


def test_media_in_any_order_with_udpport_and_baud() -> None:
    hacf, report = parse("node prime calc\nserial /dev/ttyS0\nbcast eth1\nudpport 1694\n"
                         "baud 115200\n")
    assert report.errors == []
    assert (hacf.udpport, hacf.baud) == (1694, 115200)
    assert hacf.links == (Link("eth1", 0, Bcast("eth1")),
                          Link("/dev/ttyS0", 0x80, Serial("/dev/ttyS0")))


def test_link_ids_udp_in_order_then_serial_from_0x80() -> None:
    hacf, report = parse("node prime calc\nserial /dev/ttyS0 /dev/ttyUSB0\nbcast eth1\n"
                         "mcast eth2 225.0.0.1 694 1 0\nucast eth3 198.18.0.2\n")
    assert report.errors == []
    assert [(link.name, link.link_id) for link in hacf.links] == [
        ("eth1", 0), ("eth2", 1), ("eth3", 2), ("/dev/ttyS0", 0x80), ("/dev/ttyUSB0", 0x81)]


@pytest.mark.parametrize("rate", ["300", "14400", "fast"])
def test_baud_must_be_a_supported_rate(rate: str) -> None:
    assert any(f":3: baud {rate}: invalid baudrate" in e for e in errors(BASE + f"baud {rate}\n"))


def test_baud_given_twice() -> None:
    assert any("baud: given twice" in e for e in errors(BASE + "baud 9600\nbaud 19200\n"))


def test_ucast_lines_on_one_iface_are_one_link() -> None:
    hacf, report = parse("node prime calc\nucast eth1 198.18.0.1\nucast eth1 198.18.0.2\n")
    assert report.errors == []
    assert hacf.links == (Link("eth1", 0, Ucast("eth1", ("198.18.0.1", "198.18.0.2"))),)


@pytest.mark.parametrize("line", ["ucast eth1", "ucast eth1 calc", "ucast eth1 300.1.1.1",
                                  "ucast eth1 224.0.0.1"])
def test_bad_ucast(line: str) -> None:
    assert any(e.startswith("/etc/ha.d/ha.cf:3: ucast") for e in errors(BASE + line + "\n"))


def test_mcast_parsed() -> None:
    hacf, report = parse("node prime calc\nmcast eth0 225.0.0.1 694 1 0\n")
    assert report.errors == []
    assert hacf.links[0].medium == Mcast("eth0", "225.0.0.1", 694, 1, False)


@pytest.mark.parametrize(("line", "problem"), [
    ("mcast eth0 10.0.0.1 694 1 0", "not in 224.0.0.0/4"),
    ("mcast eth0 225.0.0.1 694 5 0", "bad ttl"),
    ("mcast eth0 225.0.0.1 694 1 2", "loop"),
    ("mcast eth0 225.0.0.1 0 1 0", "port"),
    ("mcast eth0 225.0.0.1 694 1", "needs five values"),
])
def test_bad_mcast(line: str, problem: str) -> None:
    errs = errors(BASE + line + "\n")
    assert len(errs) == 1 and errs[0].startswith("/etc/ha.d/ha.cf:3: mcast") and problem in errs[0]


def test_serial_device_must_be_absolute() -> None:
    assert any("ttyS0: device must be an absolute path" in e
               for e in errors(BASE + "serial ttyS0\n"))


def test_two_media_on_one_iface_get_distinct_link_names() -> None:
    hacf, report = parse(BASE + "ucast eth0 198.18.0.2\nmcast eth0 225.0.0.1 694 1 0\n")
    assert report.errors == []
    assert [(link.name, link.link_id) for link in hacf.links] == [
        ("eth0", 0), ("eth0:ucast", 1), ("eth0:mcast", 2)]
    assert any(w.startswith("/etc/ha.d/ha.cf:3: ucast eth0: another medium already uses")
               and "not redundant" in w for w in texts(report.warnings))


def test_two_different_mcast_on_one_iface_is_an_error() -> None:
    assert errors(BASE.replace("bcast", "#") + "mcast eth1 225.0.0.1 694 1 0\n"
                  "mcast eth1 225.0.0.2 694 1 0\n") == [
        "/etc/ha.d/ha.cf:4: mcast eth1: a second mcast link on the same interface (line 3); "
        "use one"]


def test_duplicate_bcast_is_a_warning() -> None:
    hacf, report = parse(BASE + "bcast eth0\n")
    assert report.errors == [] and len(hacf.links) == 1
    assert any("duplicate ignored" in w for w in texts(report.warnings))


def test_udp_is_an_alias_of_bcast() -> None:
    hacf, report = parse("node prime calc\nudp eth0\n")
    assert report.errors == [] and hacf.links[0].medium == Bcast("eth0")
    assert any("old name of bcast" in w for w in texts(report.warnings))


@pytest.mark.parametrize(("line", "expected"), [("auto_failback on", AutoFailback.ON),
                                                ("auto_failback off", AutoFailback.OFF),
                                                ("auto_failback legacy", AutoFailback.LEGACY),
                                                ("auto_failback yes", AutoFailback.ON),
                                                ("nice_failback on", AutoFailback.OFF)])
def test_auto_failback(line: str, expected: AutoFailback) -> None:
    hacf, report = parse(BASE + line + "\n")
    assert report.errors == [] and hacf.auto_failback is expected


def test_auto_failback_bad_value() -> None:
    assert any("auto_failback maybe: use on, off or legacy" in e
               for e in errors(BASE + "auto_failback maybe\n"))


def test_other_directives_parsed_into_the_model() -> None:
    hacf, report = parse(BASE + "ping 198.18.0.254 198.18.0.253\n"
                         "ping_group routers 198.18.0.1 198.18.0.9\n"
                         "use_logd no\nrealtime off\nwatchdog /dev/watchdog\nhopfudge 3\n"
                         "respawn hacluster /usr/lib/heartbeat/ipfail -v\ncrm off\n"
                         "autojoin none\n")
    assert report.errors == []
    assert hacf.ping == ("198.18.0.254", "198.18.0.253")
    assert [(g.name, g.hosts) for g in hacf.ping_groups] == [
        ("routers", ("198.18.0.1", "198.18.0.9"))]
    assert hacf.realtime is False
    assert hacf.watchdog == "/dev/watchdog"


def test_respawn_needs_full_pathname() -> None:
    assert any("is not a full pathname" in e for e in errors(BASE + "respawn hacluster ipfail\n"))


def test_watchdog_given_twice() -> None:
    assert any("watchdog: given twice" in e
               for e in errors(BASE + "watchdog /dev/watchdog\nwatchdog /dev/watchdog1\n"))


@pytest.mark.parametrize("value", ["on", "yes", "respawn", "true"])
def test_crm_needs_pacemaker(value: str) -> None:
    errs = errors(BASE + f"crm {value}\n")
    assert len(errs) == 1 and errs[0].startswith(f"/etc/ha.d/ha.cf:3: crm {value}")
    assert "needs Pacemaker" in errs[0]


@pytest.mark.parametrize("directive", ["msgfmt classic", "compression bz2", "apiauth ipfail "
                                       "uid=hacluster", "coredumps true", "conn_logd_time 60",
                                       "failfast hacluster",
                                       "deadping 30", "debug 1"])
def test_known_heartbeat_directives_are_ignored_with_a_warning(directive: str) -> None:
    _, report = parse(BASE + directive + "\n")
    assert report.errors == []
    name = directive.split(maxsplit=1)[0]
    assert [w for w in texts(report.warnings) if w.startswith("/etc/ha.d/ha.cf:3:")] == [
        f"/etc/ha.d/ha.cf:3: {name}: ignored by twinbeat ({IGNORED[name]})"
    ]


@pytest.mark.parametrize("directive", ["mcast6 eth0 ff02::1 694 1 0", "ucast6 eth1 fd00::2"])
def test_ipv6_media_are_refused_not_ignored(directive: str) -> None:
    # A link the admin believes in must not silently be missing (issue #16).
    name = directive.split(maxsplit=1)[0]
    assert errors(BASE + directive + "\n") == [
        f"/etc/ha.d/ha.cf:3: {name}: IPv6 heartbeat media are not supported; use bcast, "
        "ucast or mcast over IPv4 on the same interface, or serial"]


def test_unknown_directive_is_an_error_with_file_and_line() -> None:
    assert errors(BASE + "\nkeepalivee 2\n") == [
        "/etc/ha.d/ha.cf:4: keepalivee: unknown directive (heartbeat: Illegal directive)"
    ]


def test_logfacility_must_be_a_syslog_facility() -> None:
    assert any("logfacility local9" in e for e in errors(BASE + "logfacility local9\n"))


def test_every_error_is_reported_not_just_the_first() -> None:
    errs = errors("node prime calc\nbcast eth0\nkeepalive 2s\nbogus\nbaud 1\n")
    assert [e.split(":")[1] for e in errs] == ["3", "4", "5"]


def test_non_utf8_line_is_an_error_and_the_rest_is_read() -> None:
    lines, report = lines_of(b"node prime calc\nbcast eth0\nlogfile /var/log/\xff\n",
                             "/etc/ha.d/ha.cf")
    hacf = parse_hacf(lines, "/etc/ha.d/ha.cf", report)
    assert texts(report.errors) == ["/etc/ha.d/ha.cf:3: not UTF-8 text; line ignored"]
    assert hacf.nodes == ("prime", "calc")


def test_binary_garbage_is_escaped_in_messages() -> None:
    errs = errors("node prime calc\nbcast eth0\n\x01\x1b[31mevil\n")
    assert errs == ["/etc/ha.d/ha.cf:3: \\x01\\x1b[31mevil: unknown directive "
                    "(heartbeat: Illegal directive)"]


@pytest.mark.parametrize("token", ["86401", "9" * 31, "9" * 5000])
def test_absurd_times_are_errors(token: str) -> None:
    errs = errors(BASE + f"deadtime {token}\n")
    assert len(errs) == 1 and errs[0].startswith("/etc/ha.d/ha.cf:3: deadtime ")


def test_huge_integers_are_errors_not_crashes() -> None:
    errs = errors(BASE + "udpport " + "9" * 5000 + "\nhopfudge " + "1" * 5000 + "\n")
    assert [e.split(":")[1] for e in errs] == ["3", "4"]


def test_heartbeats_ipfail_is_not_run_and_says_why() -> None:
    hacf, report = parse(BASE + "respawn hacluster /usr/lib/heartbeat/ipfail\n")
    assert report.errors == []
    assert hacf.respawn == ()
    assert [w for w in texts(report.warnings) if ":3:" in w] == [
        "/etc/ha.d/ha.cf:3: respawn: /usr/lib/heartbeat/ipfail is a heartbeat API client, "
        "which cannot run without heartbeat's client API: not started (ping nodes replace "
        "ipfail (docs/ping.md))"]


def test_respawn_lines_are_kept_in_order_with_their_arguments() -> None:
    hacf, report = parse(BASE + "respawn nobody /usr/bin/sleep 1000\n"
                                "respawn root /usr/local/bin/agent --quiet -x 2\n")
    assert report.errors == []
    assert [(r.user, r.command, r.args, r.line) for r in hacf.respawn] == [
        ("nobody", "/usr/bin/sleep", ("1000",), 3),
        ("root", "/usr/local/bin/agent", ("--quiet", "-x", "2"), 4)]
    assert hacf.respawn[1].text == "root /usr/local/bin/agent --quiet -x 2"


@pytest.mark.parametrize("line", ["respawn", "respawn nobody"])
def test_respawn_needs_a_user_and_a_command(line: str) -> None:
    assert errors(BASE + line + "\n") == [
        "/etc/ha.d/ha.cf:3: respawn: needs a user and an absolute command path"]


def test_garp_defaults_are_heartbeats_ten_at_500ms() -> None:
    hacf, report = parse(BASE)
    assert report.errors == []
    assert (hacf.garp_count, hacf.garp_interval) == (10, 0.5)


def test_garp_count_and_interval_are_twinbeat_directives() -> None:
    hacf, report = parse(BASE + "garp_count 3\ngarp_interval 200ms\n")
    assert report.errors == []
    assert (hacf.garp_count, hacf.garp_interval) == (3, 0.2)


@pytest.mark.parametrize("line", ["garp_count 0", "garp_count 101", "garp_count many",
                                  "garp_interval 2s"])
def test_bad_garp_settings_are_errors(line: str) -> None:
    assert any(line.split(maxsplit=1)[0] in e for e in errors(BASE + line + "\n"))


def test_directives_nothing_reads_still_parse_and_warn() -> None:
    """hopfudge and use_logd are checked and warned about, but not stored; ipfail is not run."""
    hacf, report = parse(BASE + "hopfudge 3\nuse_logd yes\n"
                         "respawn hacluster /usr/lib/heartbeat/ipfail\n")
    assert report.errors == []
    assert [w for w in texts(report.warnings) if ":3:" in w or ":4:" in w or ":5:" in w] == [
        "/etc/ha.d/ha.cf:4: use_logd: twinbeat has no logd; it logs per logfile/debugfile/"
        "logfacility, or to stderr (the journal) without them",
        "/etc/ha.d/ha.cf:5: respawn: /usr/lib/heartbeat/ipfail is a heartbeat API client, "
        "which cannot run without heartbeat's client API: not started (ping nodes replace "
        "ipfail (docs/ping.md))"]
    assert not any(hasattr(hacf, name) for name in ("hopfudge", "use_logd"))
    assert hacf.respawn == ()
    assert errors(BASE + "hopfudge 256\n") == ["/etc/ha.d/ha.cf:3: hopfudge 256: must be 0-255"]
