"""OCF resources in haresources: the `ocf:` syntax, heartbeat's classic names, meta-data checks.

The checks against real agents use Debian's resource-agents (scripts/install-deps installs
it); agents that misbehave (hang, print garbage, fail) are small scripts in a tmp OCF root.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from config_helpers import lines_of, texts

from twinbeat.cli import main
from twinbeat.config import load
from twinbeat.config.check_ocf import check_ocf_resources, read_meta_data
from twinbeat.config.classic import CLASSIC_NAMES, ClassicMapping, classic_mapping
from twinbeat.config.haresources import parse_haresources
from twinbeat.config.model import OcfResource
from twinbeat.config.ocf import OCF_ROOT, agent_path, instance_name, ocf_environment, parse_ocf
from twinbeat.config.ocfmeta import MetaDataError, parameter_problems, parse_meta_data

HAVE_AGENTS = os.access(agent_path("heartbeat", "apache"), os.X_OK)
needs_agents = pytest.mark.skipif(not HAVE_AGENTS, reason="resource-agents not installed")


# -- the syntax -------------------------------------------------------------------------


def test_named_parameters_in_order() -> None:
    text = "ocf:heartbeat:apache::configfile=/etc/apache2/apache2.conf::options=-DX=1"
    assert parse_ocf(text) == OcfResource(
        "heartbeat", "apache",
        (("configfile", "/etc/apache2/apache2.conf"), ("options", "-DX=1")), text)
    assert parse_ocf("ocf:pacemaker:Dummy") == OcfResource("pacemaker", "Dummy", (),
                                                          "ocf:pacemaker:Dummy")


@pytest.mark.parametrize(("text", "problem"), [
    ("ocf:apache", "an OCF resource is ocf:PROVIDER:AGENT[::NAME=VALUE...]"),
    ("ocf:a:b:c", "an OCF resource is ocf:PROVIDER:AGENT[::NAME=VALUE...]"),
    ("ocf::apache", "an OCF resource is"),
    ("ocf:heart/beat:apache", "bad OCF provider name 'heart/beat'"),
    ("ocf:heartbeat:..", "bad OCF agent name '..'"),
    ("ocf:heartbeat:apache::configfile", "parameter 'configfile': not NAME=VALUE"),
    ("ocf:heartbeat:apache::", "parameter '': not NAME=VALUE"),
    ("ocf:heartbeat:apache::1x=2", "parameter '1x': not a parameter name"),
    ("ocf:heartbeat:apache::a-b=2", "parameter 'a-b': not a parameter name"),
    ("ocf:heartbeat:apache::port=", "parameter port: empty value"),
    ("ocf:heartbeat:apache::port=1::port=2", "parameter port: given twice"),
])
def test_bad_ocf_texts(text: str, problem: str) -> None:
    result = parse_ocf(text)
    assert isinstance(result, str)
    assert result.startswith(problem)


def test_haresources_reports_ocf_errors_at_the_line() -> None:
    lines, report = lines_of("# x\nprime 198.18.1.100 ocf:heartbeat:apache::bad\n",
                             "haresources")
    assert parse_haresources(lines, "haresources", report, ("prime", "calc")) == ()
    assert texts(report.errors) == [
        "haresources:2: ocf:heartbeat:apache::bad: parameter 'bad': not NAME=VALUE "
        "(ocf:PROVIDER:AGENT[::NAME=VALUE...])"]


def test_environment_carries_parameters_and_timeout_in_ms() -> None:
    resource = parse_ocf("ocf:heartbeat:Dummy::state=/tmp/x::fake=a=b")
    assert isinstance(resource, OcfResource)
    env = ocf_environment({"PATH": "/bin", "OCF_RESKEY_state": "inherited", "OCF_ROOT": "/x"},
                          provider="heartbeat", agent="Dummy", instance=instance_name(resource),
                          params=resource.params, timeout=20.0)
    assert env == {
        "PATH": "/bin", "OCF_ROOT": OCF_ROOT, "OCF_RA_VERSION_MAJOR": "1",
        "OCF_RA_VERSION_MINOR": "0", "OCF_RESOURCE_INSTANCE": instance_name(resource),
        "OCF_RESOURCE_TYPE": "Dummy", "OCF_RESOURCE_PROVIDER": "heartbeat",
        "OCF_RESKEY_state": "/tmp/x", "OCF_RESKEY_fake": "a=b",
        "OCF_RESKEY_CRM_meta_timeout": "20000",
    }
    assert instance_name(resource).startswith("Dummy_")
    assert instance_name(resource) != instance_name(OcfResource("heartbeat", "Dummy", (), "x"))


# -- heartbeat's classic names --------------------------------------------------------------


@pytest.mark.parametrize(("name", "args", "agent", "params", "instance"), [
    ("Filesystem", ("/dev/sdb1", "/srv/www", "ext4"), "Filesystem",
     (("device", "/dev/sdb1"), ("directory", "/srv/www"), ("fstype", "ext4")),
     "Filesystem_/dev/sdb1"),
    ("Filesystem", ("/dev/sdb1", "/srv", "xfs", "noatime"), "Filesystem",
     (("device", "/dev/sdb1"), ("directory", "/srv"), ("fstype", "xfs"),
      ("options", "noatime")), "Filesystem_/dev/sdb1"),
    ("apache", (), "apache", (), "apache_"),
    ("apache", ("/etc/apache2/apache2.conf",), "apache",
     (("configfile", "/etc/apache2/apache2.conf"),), "apache_/etc/apache2/apache2.conf"),
    ("IPsrcaddr", ("198.18.1.100",), "IPsrcaddr", (("ipaddress", "198.18.1.100"),),
     "IPsrcaddr"),
    ("Delay", (), "Delay", (("startdelay", "10"),), "Delay_10"),
    ("Delay", ("3", "4"), "Delay", (("startdelay", "3"), ("stopdelay", "4")), "Delay_3"),
    ("AudibleAlarm", ("calc", "prime"), "AudibleAlarm", (("nodelist", "calc prime"),),
     "AudibleAlarm"),
    ("SendArp", ("198.18.1.100/eth0",), "SendArp", (("ip", "198.18.1.100"), ("nic", "eth0")),
     "SendArp_198.18.1.100"),
    ("portblock", ("tcp", "80", "block"), "portblock",
     (("protocol", "tcp"), ("portno", "80"), ("action", "block")), "portblock_tcp_80_block"),
    ("WAS", ("9080",), "WAS", (("port", "9080"),), "WAS"),
    ("WAS", ("/etc/was.conf",), "WAS", (("config", "/etc/was.conf"),), "WAS"),
    ("WinPopup", (), "WinPopup", (("hostfile", "hosts"),), "WinPopup"),
    ("Xinetd", ("tftp",), "Xinetd", (("service", "tftp"),), "Xinetd"),
    ("ids", ("/opt/informix", "srv", "onconfig.srv"), "ids",
     (("informixdir", "/opt/informix"), ("informixserver", "srv"),
      ("onconfig", "onconfig.srv")), "ids_srv"),
    ("MailTo", ("root@example.org", "failover"), "MailTo",
     (("email", "root@example.org"), ("subject", "failover")), "MailTo"),
])
def test_classic_names_map_as_heartbeats_wrappers(name, args, agent, params, instance) -> None:
    assert classic_mapping(name, args) == ClassicMapping(agent, params, instance)


@pytest.mark.parametrize(("name", "args", "usage"), [
    ("Filesystem", ("/dev/sdb1",), "Filesystem takes Filesystem::device::directory"
                                   "[::fstype[::options]]"),
    ("apache", ("a", "b"), "apache takes apache[::configfile]"),
    ("portblock", ("tcp", "80"), "portblock takes portblock::protocol::portno::action"),
    ("SendArp", ("198.18.1.100",), "SendArp takes SendArp::IP/NIC"),
    ("ids", ("a",), "ids takes no arguments, or ids::informixdir::informixserver::onconfig"),
    ("Delay", ("1", "2", "3"), "Delay takes Delay[::startdelay[::stopdelay]]"),
])
def test_classic_names_refuse_what_their_wrapper_refused(name, args, usage) -> None:
    assert classic_mapping(name, args) == usage


def test_not_a_classic_name() -> None:
    assert classic_mapping("apache2", ()) is None
    # twinbeat's own netlink agent, not heartbeat's wrappers
    assert not {"IPaddr", "IPaddr2", "IPv6addr"} & set(CLASSIC_NAMES)


@needs_agents
def test_every_classic_name_has_its_agent_and_every_mapped_parameter_exists() -> None:
    """The mapping uses the parameter names the installed agents declare."""
    samples = {"Filesystem": ("d", "m", "ext4", "ro"), "ICP": ("1", "/dev/x"),
               "IPsrcaddr": ("1.2.3.4",), "LVM": ("vg",), "LinuxSCSI": ("0:0:0",),
               "MailTo": ("a@b", "s"), "Raid1": ("/etc/mdadm.conf", "/dev/md0"),
               "ServeRAID": ("1", "2"), "Xinetd": ("x",), "apache": ("/c",), "db2": ("i",),
               "portblock": ("tcp", "80", "block"), "AudibleAlarm": ("a",),
               "Delay": ("1", "2"),
               "SendArp": ("1.2.3.4/eth0",), "WAS": ("80",), "WinPopup": ("h",),
               "ids": ("a", "b", "c")}
    assert set(samples) == set(CLASSIC_NAMES)
    for name, args in samples.items():
        mapping = classic_mapping(name, args)
        assert isinstance(mapping, ClassicMapping), name
        meta = read_meta_data(agent_path("heartbeat", mapping.agent))
        known = meta.parameter_names()
        assert {p for p, _ in mapping.params} <= known, name


# -- meta-data ---------------------------------------------------------------------------

META = """<?xml version="1.0"?>
<resource-agent name="web" version="1.0"><parameters>
 <parameter name="config" required="1" unique="1"><content type="string"/></parameter>
 <parameter name="port"><content type="integer" default="80"/></parameter>
</parameters><actions>
 <action name="start" timeout="40s"/><action name="stop" timeout="1m"/>
 <action name="monitor" depth="0" timeout="20" interval="10s"/>
 <action name="monitor" depth="10" timeout="60s" interval="60s"/>
 <action name="meta-data" timeout="500ms"/>
</actions></resource-agent>"""


def test_meta_data_parameters_and_timeouts() -> None:
    meta = parse_meta_data(META)
    assert meta.agent == "web"
    assert [(p.name, p.required, p.default) for p in meta.parameters] == [
        ("config", True, None), ("port", False, "80")]
    assert meta.timeouts == {"start": 40.0, "stop": 60.0, "monitor": 20.0, "meta-data": 0.5}
    assert parameter_problems(meta, (("config", "x"),)) == []
    assert parameter_problems(meta, (("prot", "8"),)) == [
        "required parameter config missing",
        "unknown parameter prot (the agent knows: config, port)"]


@pytest.mark.parametrize("text", [
    "", "not xml", "<resource-agent", "<other/>", "<!DOCTYPE x [<!ENTITY a 'b'>]><other/>",
    "x" * (1 << 21),
])
def test_meta_data_garbage_is_one_error(text: str) -> None:
    with pytest.raises(MetaDataError):
        parse_meta_data(text)


@needs_agents
def test_real_apache_meta_data() -> None:
    meta = read_meta_data(agent_path("heartbeat", "apache"))
    assert "configfile" in meta.parameter_names()
    assert meta.timeout("monitor") == 20.0 and meta.timeout("start") == 40.0
    assert "monitor" in meta.actions


# -- twinbeat check -----------------------------------------------------------------------


@needs_agents
def test_check_accepts_good_ocf_and_classic_resources(write_dir, capsys) -> None:
    d = write_dir(haresources=(
        "prime 198.18.1.100 ocf:heartbeat:apache::configfile=/etc/apache2/apache2.conf "
        "Filesystem::/dev/sdb1::/srv/www::ext4\n"))
    assert main(["check", "--config-dir", d, "--node", "prime"]) == 0
    out = capsys.readouterr().out
    assert ("  ocf:heartbeat:apache::configfile=/etc/apache2/apache2.conf: "
            f"{OCF_ROOT}/resource.d/heartbeat/apache (ocf; configfile=/etc/apache2/"
            "apache2.conf)") in out
    assert ("  Filesystem::/dev/sdb1::/srv/www::ext4: "
            f"{OCF_ROOT}/resource.d/heartbeat/Filesystem (heartbeat's classic name, as "
            "ocf:heartbeat:Filesystem; device=/dev/sdb1 directory=/srv/www fstype=ext4)") in out


@needs_agents
def test_check_refuses_bad_ocf_resources_at_their_line(write_dir, capsys) -> None:
    d = write_dir(haresources=(
        "prime 198.18.1.100 apache2\n"
        "calc 198.18.1.101 ocf:heartbeat:apache::confile=/x ocf:heartbeat:nope "
        "Filesystem::/dev/sdb1 ocf:heartbeat:Filesystem::device=/dev/x\n"))
    assert main(["check", "--config-dir", d, "--node", "prime"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    errors = [line for line in err.splitlines() if "warning" not in line]
    assert errors[:-1] == [
        f"{d}/haresources:2: ocf:heartbeat:apache::confile=/x: unknown parameter confile "
        "(the agent knows: client, configfile, envfiles, httpd, options, port, statusurl, "
        "testconffile, testname, testregex, testregex10, testur...)",
        f"{d}/haresources:2: ocf:heartbeat:nope: no such OCF agent ({OCF_ROOT}/resource.d/"
        "heartbeat/nope is not an executable file; Debian: apt-get install resource-agents)",
        f"{d}/haresources:2: Filesystem::/dev/sdb1: Filesystem takes Filesystem::device::"
        "directory[::fstype[::options]] (heartbeat's Filesystem wrapper, run as "
        "ocf:heartbeat:Filesystem)",
        f"{d}/haresources:2: ocf:heartbeat:Filesystem::device=/dev/x: required parameter "
        "directory missing",
        f"{d}/haresources:2: ocf:heartbeat:Filesystem::device=/dev/x: required parameter "
        "fstype missing",
    ]
    assert errors[-1] == "5 error(s) in OCF resources; twinbeat would fail to run them"


def fake_agent(root: Path, name: str, body: str) -> None:
    path = root / "resource.d" / "test" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def test_misbehaving_agents_are_warnings_and_a_hang_is_killed(write_dir, tmp_path) -> None:
    root = tmp_path / "ocf"
    pidfile = tmp_path / "hang.pid"
    fake_agent(root, "hang", f"echo $$ > {pidfile}; exec sleep 60\n")
    fake_agent(root, "garbage", "echo '<not xml'\n")
    fake_agent(root, "fails", "exit 3\n")
    fake_agent(root, "nomonitor", "echo '<resource-agent name=\"x\"><actions>"
                                  "<action name=\"start\"/></actions></resource-agent>'\n")
    d = write_dir(haresources="prime 198.18.1.100 ocf:test:hang ocf:test:garbage "
                              "ocf:test:fails ocf:test:nomonitor\n")
    began = time.monotonic()
    result = check_ocf_resources(load(d, "prime"), ocf_root=str(root), timeout=0.5)
    assert time.monotonic() - began < 5
    assert result.errors == []
    assert [m.text for m in result.warnings] == [
        "ocf:test:hang: meta-data timed out after 0.5 s; its parameters are not checked",
        "ocf:test:garbage: meta-data is not XML: unclosed token: line 1, column 0; its "
        "parameters are not checked",
        "ocf:test:fails: meta-data exited 3; its parameters are not checked",
        "ocf:test:nomonitor: the agent has no monitor action; it will not be monitored",
    ]
    pid = int(pidfile.read_text())
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in Path(f"/proc/{pid}/status").read_text()
