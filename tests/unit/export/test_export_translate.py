"""twinbeat's Config -> the Pacemaker model: every row of issue #15's table, and the notes.

Pure: `Facts` are given by hand, so nothing here depends on what this machine has installed.
Pacemaker's own tools judge the rendered CIB in tests/integration/test_export_pacemaker.py.
"""

from __future__ import annotations

import re

from export_helpers import MakeConfig

from twinbeat.export.facts import Facts
from twinbeat.export.model import Cluster, Note, Op, Primitive, Target
from twinbeat.export.translate import PREFERENCE, STAY, translate

NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
INIT = Facts(agents={"apache2": "init.d"})


def members(cluster: Cluster) -> list[Primitive]:
    return [m for g in cluster.groups for m in g.members]


def texts(notes: tuple[Note, ...]) -> list[str]:
    return [str(n) for n in notes]


def test_the_howto_group_becomes_an_ipaddr2_and_an_lsb_member(make_config: MakeConfig) -> None:
    cluster, _ = translate(make_config(), INIT)
    (group,) = cluster.groups
    ip, apache = group.members
    assert (ip.agent, apache.agent) == ("ocf:heartbeat:IPaddr2", "lsb:apache2")
    assert dict(ip.params) == {"ip": "198.18.1.100", "cidr_netmask": "24", "nic": "eth0",
                               "arp_count": "10", "arp_interval": "500"}
    assert group.primary == "prime"
    assert [(p.rsc, p.node, p.score) for p in cluster.preferences] == [
        (group.id, "prime", PREFERENCE)]
    assert cluster.nodes == ((1, "prime"), (2, "calc"))


def test_a_bare_address_and_an_alias_interface(make_config: MakeConfig) -> None:
    config = make_config("calc 198.18.1.7 IPaddr2::198.18.1.8/24/eth0:web/198.18.1.255\n")
    (ip1, ip2), = [g.members for g in translate(config, Facts())[0].groups]
    assert dict(ip1.params)["ip"] == "198.18.1.7" and "nic" not in dict(ip1.params)
    assert dict(ip2.params).items() >= {"nic": "eth0", "iflabel": "web",
                                        "broadcast": "198.18.1.255"}.items()


def test_ocf_resources_are_themselves(make_config: MakeConfig) -> None:
    config = make_config("prime ocf:heartbeat:apache::configfile=/etc/apache2/apache2.conf\n")
    (prim,) = members(translate(config, Facts())[0])
    assert prim.agent == "ocf:heartbeat:apache"
    assert prim.params == (("configfile", "/etc/apache2/apache2.conf"),)


def test_classic_names_become_their_ocf_agent_with_named_parameters(
        make_config: MakeConfig) -> None:
    config = make_config("prime Filesystem::/dev/sdb1::/srv/www::ext4 apache\n")
    fs, apache = members(translate(config, Facts(agents={"Filesystem": "ocf",
                                                         "apache": "resource.d"}))[0])
    assert fs.agent == "ocf:heartbeat:Filesystem"
    assert fs.params == (("device", "/dev/sdb1"), ("directory", "/srv/www"), ("fstype", "ext4"))
    assert apache.agent == "ocf:heartbeat:apache" and apache.params == ()


def test_systemd_units_and_init_scripts(make_config: MakeConfig) -> None:
    config = make_config("prime 198.18.1.7 nginx rsyslog\n")
    _, nginx, rsyslog = members(translate(config, Facts(agents={"nginx": "systemd",
                                                                "rsyslog": "init.d"}))[0])
    assert (nginx.agent, rsyslog.agent) == ("systemd:nginx", "lsb:rsyslog")


def test_a_resource_d_script_is_lsb_with_a_warning_at_its_line(make_config: MakeConfig) -> None:
    config = make_config("# web\nprime 198.18.1.7 \\\n  myapp\n", scripts=("myapp",))
    cluster, notes = translate(config, Facts(agents={"myapp": "resource.d"}))
    (_, app), = [g.members for g in cluster.groups]
    assert app.agent == "lsb:myapp"
    path = f"{config.config_dir}/haresources"
    said = [n for n in notes if "myapp" in n.text]
    assert [(n.path, n.line, n.target) for n in said] == [(path, 2, Target.CIB)]
    assert "no OCF counterpart" in said[0].text and "/etc/init.d/myapp" in said[0].text
    assert said[0].text in app.comments  # said in the output too


def test_arguments_that_lsb_cannot_take_are_said(make_config: MakeConfig) -> None:
    config = make_config("prime 198.18.1.7 myapp::one::two\n", scripts=("myapp",))
    _, notes = translate(config, Facts(agents={"myapp": "resource.d"}))
    assert any("cannot translate the arguments one two" in n.text for n in notes)


def test_a_script_not_found_here_is_said(make_config: MakeConfig) -> None:
    _, notes = translate(make_config("prime 198.18.1.7 ghost\n"), Facts(agents={"ghost": None}))
    assert any("ghost: not found on this machine" in n.text for n in notes)


def test_monitoring_settings_become_monitor_operations(make_config: MakeConfig) -> None:
    config = make_config(
        "prime 198.18.1.7 apache2 rsyslog\n",
        extra_hacf="monitor_interval 7\nmonitor_timeout 30\nmigration_threshold 2\n"
                   "failure_timeout 120\nmonitor apache2 interval=3 timeout=500ms\n"
                   "monitor rsyslog off\n")
    cluster, _ = translate(config, INIT)
    ip, apache, rsyslog = members(cluster)
    assert ip.ops == (Op("monitor", 7.0, 30.0),)
    assert apache.ops == (Op("monitor", 3.0, 0.5),)
    assert rsyslog.ops == () and any("monitoring off" in c for c in rsyslog.comments)
    assert dict(cluster.rsc_defaults).items() >= {"migration-threshold": "2",
                                                  "failure-timeout": "120s"}.items()


def test_auto_failback_is_stickiness(make_config: MakeConfig) -> None:
    on = translate(make_config(), INIT)[0]
    off = translate(make_config(extra_hacf="auto_failback off\n",
                                hacf=BASE_WITHOUT_FAILBACK), INIT)[0]
    assert dict(on.rsc_defaults)["resource-stickiness"] == "0"
    assert int(dict(off.rsc_defaults)["resource-stickiness"]) == STAY > PREFERENCE


BASE_WITHOUT_FAILBACK = "keepalive 2\ndeadtime 10\nbcast eth1\nnode prime\nnode calc\n"


def test_ping_nodes_become_a_ping_clone_and_a_rule_per_group(make_config: MakeConfig) -> None:
    config = make_config("prime 198.18.1.7\ncalc 198.18.1.8\n",
                         extra_hacf="ping 198.18.1.254\nping_group lan 198.18.1.20 "
                                    "198.18.1.21\n")
    cluster, _ = translate(config, Facts())
    (clone,) = cluster.clones
    assert clone.primitive.agent == "ocf:pacemaker:ping"
    assert dict(clone.primitive.params)["host_list"] == "198.18.1.254 198.18.1.20 198.18.1.21"
    assert sorted(c.rsc for c in cluster.connectivity) == sorted(g.id for g in cluster.groups)
    assert {c.attribute for c in cluster.connectivity} == {dict(clone.primitive.params)["name"]}


def test_no_fencing_disables_stonith_and_says_so(make_config: MakeConfig) -> None:
    cluster, notes = translate(make_config(), INIT)
    assert dict(cluster.properties)["stonith-enabled"] == "false"
    assert cluster.fencing == ()
    assert any("no fencing configured" in n.text and n.line == 0 for n in notes)


def test_initdead_is_dc_deadtime(make_config: MakeConfig) -> None:
    assert dict(translate(make_config(), INIT)[0].properties)["dc-deadtime"] == "30s"


def test_ids_are_unique_xml_names(make_config: MakeConfig) -> None:
    config = make_config("prime 198.18.1.7 apache2\ncalc 198.18.1.8 apache2::x\n"
                         "prime ocf:heartbeat:Dummy::fake=1 ocf:heartbeat:Dummy::fake=2\n")
    cluster, _ = translate(config, INIT)
    ids = [p.id for p in members(cluster)] + [g.id for g in cluster.groups]
    ids += [p.id for p in cluster.preferences]
    assert len(ids) == len(set(ids))
    assert all(NCNAME.fullmatch(i) for i in ids), ids


def test_every_cib_note_is_in_the_header(make_config: MakeConfig) -> None:
    config = make_config("prime 198.18.1.7 ghost\n")
    cluster, notes = translate(config, Facts(agents={"ghost": None}))
    assert notes and all(f"  {n}" in cluster.header for n in notes if n.target is Target.CIB)
