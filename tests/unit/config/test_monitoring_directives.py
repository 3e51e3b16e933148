"""ha.cf's monitoring directives: defaults, values, `path:line` errors, the cross-file check."""

from __future__ import annotations

import pytest
from config_helpers import HOWTO_HACF, lines_of, texts

from twinbeat.cli import main
from twinbeat.config import ConfigErrors, load
from twinbeat.config.hacf import parse_hacf
from twinbeat.config.model import Monitoring, MonitorOverride

HARESOURCES = "prime IPaddr::198.18.1.100/24/eth0 apache2\n"


def hacf_of(extra: str):
    lines, report = lines_of(HOWTO_HACF + extra, "ha.cf")
    hacf = parse_hacf(lines, "ha.cf", report)
    return hacf, report


def test_defaults_monitor_every_5s_with_the_agents_timeout() -> None:
    hacf, report = hacf_of("")
    assert hacf.monitoring == Monitoring(5.0, None, (), 3, 600.0)
    assert not report.errors
    assert hacf.monitoring.interval_for("apache2") == 5.0
    assert hacf.monitoring.timeout_for("apache2") is None


def test_global_and_per_resource_settings() -> None:
    hacf, report = hacf_of(
        "monitor_interval 10\nmonitor_timeout 30\nmigration_threshold 1\n"
        "failure_timeout 120\nmonitor apache2 interval=2 timeout=500ms\n"
        "monitor IPaddr::198.18.1.100/24/eth0 off\n"
        "monitor ocf:heartbeat:Dummy::state=/run/a,b timeout=7\n")
    assert not report.errors
    m = hacf.monitoring
    assert (m.interval, m.timeout, m.migration_threshold, m.failure_timeout) == (10, 30, 1, 120)
    assert m.overrides[0] == MonitorOverride("apache2", 2.0, 0.5, False, 14)
    assert m.interval_for("apache2") == 2.0 and m.timeout_for("apache2") == 0.5
    assert m.interval_for("IPaddr::198.18.1.100/24/eth0") is None
    # a whole-line directive: the comma inside the resource text survives
    assert m.interval_for("ocf:heartbeat:Dummy::state=/run/a,b") == 10
    assert m.timeout_for("ocf:heartbeat:Dummy::state=/run/a,b") == 7
    assert m.interval_for("other") == 10 and m.timeout_for("other") == 30


def test_monitor_interval_off_checks_only_resources_with_their_own() -> None:
    hacf, report = hacf_of("monitor_interval off\nmonitor apache2 interval=3\n"
                           "monitor web timeout=4\n")
    assert not report.errors
    m = hacf.monitoring
    assert m.interval is None
    assert m.interval_for("apache2") == 3
    assert m.interval_for("web") is None
    assert m.interval_for("IPaddr::198.18.1.100") is None


@pytest.mark.parametrize(("line", "error"), [
    ("monitor_interval 500ms", "monitor_interval 500ms: below the 1 s floor (each check runs "
                               "a program)"),
    ("monitor_interval 5s", "monitor_interval 5s: bad time value (use a number of seconds, "
                            "or Nms / Nus)"),
    ("monitor_interval", "monitor_interval: takes exactly one value, got 0"),
    ("monitor_timeout 0", "monitor_timeout 0: must be greater than 0"),
    ("migration_threshold 0", "migration_threshold 0: must be 1-1000"),
    ("migration_threshold three", "migration_threshold three: must be 1-1000"),
    ("failure_timeout -1", "failure_timeout -1: bad time value (use a number of seconds, "
                           "or Nms / Nus)"),
    ("monitor apache2", "monitor: needs a resource (as written in haresources) and "
                        "interval=T, timeout=T or off"),
    ("monitor apache2 every=5", "monitor apache2: every=5: not interval=T, timeout=T or off"),
    ("monitor apache2 interval=5s", "monitor apache2: interval=5s: bad time value (use a "
                                    "number of seconds, or Nms / Nus)"),
    ("monitor apache2 interval=100ms", "monitor apache2: interval=100ms: below the 1 s floor "
                                       "(each check runs a program)"),
    ("monitor apache2 timeout=1 timeout=2", "monitor apache2: timeout given twice"),
    ("monitor apache2 off interval=2", "monitor apache2: off and interval= contradict each "
                                       "other"),
])
def test_errors_name_the_line(line: str, error: str) -> None:
    _, report = hacf_of(line + "\n")
    assert texts(report.errors) == [f"ha.cf:10: {error}"]


def test_a_resource_set_twice_is_an_error_naming_the_first_line() -> None:
    _, report = hacf_of("monitor apache2 interval=2\nmonitor apache2 off\n")
    assert texts(report.errors) == ["ha.cf:11: monitor apache2: already set (line 10)"]


def test_monitor_must_name_a_resource_of_haresources(write_dir) -> None:
    d = write_dir(hacf=HOWTO_HACF + "monitor apache interval=2\nmonitor apache2 off\n",
                  haresources=HARESOURCES)
    with pytest.raises(ConfigErrors) as caught:
        load(d, "prime")
    assert texts(caught.value.messages) == [
        f"{d}/ha.cf:10: monitor apache: no such resource in haresources (write it as there)"]


def test_no_cross_check_noise_when_haresources_has_errors(write_dir) -> None:
    d = write_dir(hacf=HOWTO_HACF + "monitor apache2 off\n",
                  haresources="prime 198.18.1.300 apache2\n")
    with pytest.raises(ConfigErrors) as caught:
        load(d, "prime")
    assert [m.path for m in caught.value.messages] == [f"{d}/haresources"]


def test_check_summarises_monitoring(write_dir, capsys) -> None:
    d = write_dir(hacf=HOWTO_HACF + "monitor_timeout 30\nmonitor apache2 interval=2\n"
                                    "migration_threshold 2\n",
                  haresources=HARESOURCES)
    assert main(["check", "--config-dir", d, "--node", "prime"]) == 0
    out = capsys.readouterr().out
    assert ("monitor:  every 5s, timeout 30s; migration_threshold 2, failure_timeout 600s; "
            "apache2: interval=2s\n") in out


def test_fingerprint_ignores_monitoring(write_dir) -> None:
    """Monitoring is this node's own business: it may differ between the nodes."""
    plain = load(write_dir(haresources=HARESOURCES), "prime")
    tuned = load(write_dir(hacf=HOWTO_HACF + "monitor_interval 9\nmonitor apache2 off\n",
                           haresources=HARESOURCES), "prime")
    assert plain.fingerprint == tuned.fingerprint
