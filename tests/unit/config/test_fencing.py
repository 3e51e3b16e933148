"""ha.cf's fencing lines (config/fencing.py): heartbeat's stonith/stonith_host, twinbeat's fence.

One test per rule and per error path; no message may show a parameter or option value.
"""

from __future__ import annotations

import pytest
from config_helpers import lines_of, texts

from twinbeat.config.fencing import (
    NO_STONITH,
    describe,
    shown_options,
    storage_resource,
    unprotected_storage,
)
from twinbeat.config.hacf import parse_hacf
from twinbeat.config.messages import Report
from twinbeat.config.model import (
    FenceAction,
    FenceAgent,
    Fencing,
    Group,
    HaCf,
    ScriptResource,
    StonithFile,
    StonithHost,
)

PATH = "/etc/ha.d/ha.cf"
BASE = "node prime calc\nbcast eth0\n"  # fencing lines start at line 3


def parse(text: str) -> tuple[HaCf, Report]:
    lines, report = lines_of(BASE + text, PATH)
    return parse_hacf(lines, PATH, report), report


def errors(text: str) -> list[str]:
    return texts(parse(text)[1].errors)


def warnings_at(text: str, line: int = 3) -> list[str]:
    return [w for w in texts(parse(text)[1].warnings) if w.startswith(f"{PATH}:{line}:")]


# -- heartbeat's lines ---------------------------------------------------------------------


def test_no_fencing_by_default() -> None:
    hacf, report = parse("")
    assert report.errors == []
    assert hacf.fencing == Fencing((), 0.0, 60.0, FenceAction.REBOOT)


def test_stonith_host_as_heartbeat_reads_it() -> None:
    hacf, report = parse("stonith_host * baytech 10.0.0.3 mylogin mysecretpassword\n"
                         "stonith_host Ken3 rps10 /dev/ttyS1 kathy 0\n")
    assert report.errors == []
    assert hacf.fencing.devices == (
        StonithHost("*", "baytech", "10.0.0.3 mylogin mysecretpassword", 3),
        StonithHost("ken3", "rps10", "/dev/ttyS1 kathy 0", 4),  # HOSTFROM lower-cased
    )


def test_stonith_host_commas_stay_in_the_parameters() -> None:
    # A whole-line directive: heartbeat hands the rest of the line over unsplit.
    hacf, _ = parse("stonith_host * external/ssh prime,calc\n")
    assert hacf.fencing.devices == (StonithHost("*", "external/ssh", "prime,calc", 3),)


def test_stonith_host_without_parameters_is_kept() -> None:
    hacf, _ = parse("stonith_host prime null\n")
    assert hacf.fencing.devices == (StonithHost("prime", "null", "", 3),)


@pytest.mark.parametrize("line", ["stonith_host", "stonith_host *"])
def test_stonith_host_needs_a_type(line: str) -> None:
    assert errors(line + "\n") == [f"{PATH}:3: stonith_host: needs HOSTFROM and a device TYPE "
                                   "(heartbeat: No Stonith type given)"]


@pytest.mark.parametrize("kind", ["external/../../tmp/x", "a;b", "external/a/b", "$(id)",
                                  "/usr/lib/x"])
def test_bad_device_types_are_refused(kind: str) -> None:
    errs = errors(f"stonith_host * {kind} secret\n")
    assert len(errs) == 1 and "bad STONITH device type" in errs[0]
    assert "secret" not in errs[0]


def test_stonith_reads_type_and_file() -> None:
    hacf, report = parse("stonith baytech /etc/ha.d/conf/stonith.baytech\n")
    assert report.errors == []
    assert hacf.fencing.devices == (StonithFile("baytech", "/etc/ha.d/conf/stonith.baytech", 3),)


@pytest.mark.parametrize(("line", "problem"), [
    ("stonith baytech", "needs a device TYPE and its parameter FILE"),
    ("stonith baytech conf/stonith.baytech", "must be an absolute path"),
])
def test_stonith_errors(line: str, problem: str) -> None:
    errs = errors(line + "\n")
    assert len(errs) == 1 and errs[0].startswith(f"{PATH}:3: stonith") and problem in errs[0]


def test_a_hostfrom_that_is_no_node_is_a_warning() -> None:
    assert warnings_at("stonith_host dana null calc\n") == [
        f"{PATH}:3: stonith_host dana null: dana is not a node in ha.cf; this line "
        "is never used"]


# -- fence (twinbeat's own) ----------------------------------------------------------------


def test_fence_agent_with_options() -> None:
    hacf, report = parse("fence fence_ipmilan ip=198.18.3.10 username=admin "
                         "password_file=/etc/ha.d/ipmi.secret lanplus=1\n")
    assert report.errors == []
    assert hacf.fencing.devices == (FenceAgent("*", "fence_ipmilan", (
        ("ip", "198.18.3.10"), ("username", "admin"),
        ("password_file", "/etc/ha.d/ipmi.secret"), ("lanplus", "1")), 3),)


def test_fence_with_a_target_node_and_a_path() -> None:
    hacf, report = parse("fence CALC /opt/fence/fence_pdu plug=3\nfence * fence_dummy\n")
    assert report.errors == []
    assert hacf.fencing.devices == (
        FenceAgent("calc", "/opt/fence/fence_pdu", (("plug", "3"),), 3),
        FenceAgent("*", "fence_dummy", (), 4),
    )


@pytest.mark.parametrize(("line", "problem"), [
    ("fence", "needs a fence agent"),
    ("fence calc", "needs a fence agent"),
    ("fence calc ipmilan ip=1", "needs a fence agent"),
    ("fence fence_a/b", "bad agent name"),
    ("fence fence_dummy ip", "option ip: not KEY=VALUE"),
    ("fence fence_dummy IP=1 ip=2", "option ip: given twice"),
    ("fence fence_dummy 9ip=1", "bad option name"),
    ("fence fence_dummy action=off", "set by twinbeat"),
    ("fence fence_dummy delay=5", "fence_delay"),
    ("fence fence_dummy plug=1 port=2", "give plug or port, not both"),
    ("fence fence_dummy password_file=ipmi.secret", "must be an absolute path"),
    ("fence fence_dummy password=x password_file=/s", "password is given twice"),
    ("fence fence_dummy passwd_file=/a password_file=/s", "password is given twice"),
])
def test_fence_errors(line: str, problem: str) -> None:
    errs = errors(line + "\n")
    assert len(errs) == 1, errs
    assert errs[0].startswith(f"{PATH}:3: fence") and problem in errs[0]


def test_fence_messages_never_show_a_value() -> None:
    errs = errors("fence fence_dummy password=hunter2 password=hunter3\n")
    assert errs and all("hunter" not in e for e in errs)


def test_an_inline_password_is_a_warning() -> None:
    assert warnings_at("fence fence_dummy password=hunter2\n") == [
        f"{PATH}:3: fence fence_dummy: a password in ha.cf, which is usually "
        "world-readable; keep it in a 0600 file (password_file=PATH)"]


def test_a_fence_target_that_is_no_node_is_a_warning() -> None:
    assert "is not a node in ha.cf" in warnings_at("fence dana fence_dummy\n")[0]


def test_reprs_and_descriptions_hide_secrets() -> None:
    hacf, _ = parse("stonith_host * baytech 10.0.0.3 login hunter2\n"
                    "fence fence_dummy password=hunter2 ip=1\n")
    assert "hunter2" not in repr(hacf)
    assert [describe(d) for d in hacf.fencing.devices] == [
        "stonith_host * baytech", "fence fence_dummy"]
    agent = hacf.fencing.devices[1]
    assert isinstance(agent, FenceAgent)
    assert shown_options(agent) == "password=*** ip=1"


# -- settings ------------------------------------------------------------------------------


def test_fence_settings() -> None:
    hacf, report = parse("stonith_host * null calc\nfence_delay 5\nfence_timeout 30\n"
                         "fence_action off\n")
    assert report.errors == []
    assert (hacf.fencing.delay, hacf.fencing.timeout, hacf.fencing.action) == (
        5.0, 30.0, FenceAction.OFF)


@pytest.mark.parametrize(("line", "value"), [("fence_delay 0", 0.0), ("fence_delay 500ms", 0.5),
                                             ("fence_action reset", FenceAction.REBOOT)])
def test_fence_setting_values(line: str, value: object) -> None:
    hacf, report = parse("stonith_host * null calc\n" + line + "\n")
    assert report.errors == []
    assert value in (hacf.fencing.delay, hacf.fencing.action)


@pytest.mark.parametrize(("line", "problem"), [
    ("fence_delay 5s", "bad time value"),
    ("fence_timeout 0", "must be greater than 0"),
    ("fence_action kill", "use reboot or off"),
])
def test_fence_setting_errors(line: str, problem: str) -> None:
    errs = errors("stonith_host * null calc\n" + line + "\n")
    assert len(errs) == 1 and errs[0].startswith(f"{PATH}:4: fence_") and problem in errs[0]


def test_a_fence_setting_twice_is_an_error() -> None:
    assert "fence_delay: given twice (line 4)" in errors(
        "stonith_host * null calc\nfence_delay 1\nfence_delay 2\n")[0]


def test_fence_delay_without_fencing_is_a_warning() -> None:
    assert warnings_at("fence_delay 5\n") == [
        f"{PATH}:3: fence_delay: no fencing configured (stonith, stonith_host or "
        "fence)"]


# -- which lines a node uses ---------------------------------------------------------------


def test_devices_for_follow_heartbeats_hostfrom() -> None:
    hacf, _ = parse("stonith_host prime external/ipmi calc 198.18.3.11 admin pw lan\n"
                    "stonith_host calc external/ipmi prime 198.18.3.10 admin pw lan\n"
                    "stonith_host * null prime calc\n"
                    "stonith baytech /etc/ha.d/baytech.cfg\n"
                    "fence calc fence_ipmilan ip=198.18.3.11\n"
                    "fence prime fence_ipmilan ip=198.18.3.10\n"
                    "fence fence_apc ip=198.18.3.20\n")
    on_prime = hacf.fencing.devices_for("prime", "calc")
    assert [d.line for d in on_prime] == [3, 5, 6, 7, 9]
    on_calc = hacf.fencing.devices_for("calc", "prime")
    assert [d.line for d in on_calc] == [4, 5, 6, 8, 9]
    assert hacf.fencing.devices_for("prime", None) == ()


# -- heartbeat's warning for unprotected storage -------------------------------------------


@pytest.mark.parametrize(("name", "storage"), [
    ("Filesystem", True), ("LVM", True), ("drbddisk", True), ("Raid1", True), ("iSCSI", True),
    ("ocf:heartbeat:Filesystem", True), ("ocf:linbit:LVM", True), ("apache2", False),
    ("ocf:heartbeat:apache", False), ("IPaddr", False), ("filesystem2", False),
])
def test_storage_resources(name: str, storage: bool) -> None:
    assert storage_resource(name) is storage


def _group(*names: str) -> Group:
    resources = tuple(ScriptResource(n, (), f"{n}::/dev/sdb1") for n in names)
    return Group(resources[0].text, "prime", resources, "/etc/ha.d/haresources", 7)


def test_storage_without_fencing_gets_heartbeats_warning() -> None:
    report = Report()
    unprotected_storage(False, (_group("apache2"), _group("drbddisk", "Filesystem")), report)
    assert texts(report.warnings) == [
        f"/etc/ha.d/haresources:7: {NO_STONITH} (drbddisk::/dev/sdb1 uses storage; configure "
        "stonith_host or fence, docs/fencing.md)"]


def test_storage_with_fencing_or_none_is_quiet() -> None:
    for fenced, groups in ((True, (_group("Filesystem"),)), (False, (_group("apache2"),))):
        report = Report()
        unprotected_storage(fenced, groups, report)
        assert report.warnings == []
