"""ha.cf's fencing -> stonith: primitives and properties, and what cannot be carried over."""

from __future__ import annotations

from export_helpers import MakeConfig

from twinbeat.export.facts import Facts
from twinbeat.export.model import INFINITY, Cluster, Primitive
from twinbeat.export.translate import translate

SECRET = "s3cret-value"


def device(cluster: Cluster, index: int = 0) -> Primitive:
    return cluster.fencing[index]


def test_a_fence_agent_per_node(make_config: MakeConfig) -> None:
    config = make_config(extra_hacf="fence calc fence_ipmilan ip=198.18.9.2 username=admin "
                                    "password_file=/etc/ha.d/ipmi.secret\n"
                                    "fence prime fence_ipmilan ip=198.18.9.1 username=admin "
                                    "password_file=/etc/ha.d/ipmi.secret\n"
                                    "fence_action off\nfence_timeout 30\n")
    cluster, notes = translate(config, Facts())
    calc, prime = cluster.fencing
    assert calc.agent == "stonith:fence_ipmilan"
    assert dict(calc.params) == {"ip": "198.18.9.2", "username": "admin",
                                 "password_script": "cat /etc/ha.d/ipmi.secret",
                                 "pcmk_host_list": "calc"}
    assert dict(prime.params)["pcmk_host_list"] == "prime"
    props = dict(cluster.properties)
    assert props["stonith-enabled"] == "true"
    assert (props["stonith-action"], props["stonith-timeout"]) == ("off", "30s")
    # a device is kept off the node it fences
    avoid = {(p.rsc, p.node) for p in cluster.preferences if p.score == -INFINITY}
    assert avoid == {(calc.id, "calc"), (prime.id, "prime")}
    assert not any("fenc" in n.text for n in notes)


def test_a_plug_for_a_named_node_is_a_host_map(make_config: MakeConfig) -> None:
    config = make_config(extra_hacf="fence calc fence_apc ip=198.18.9.9 plug=4\n"
                                    "fence prime fence_apc ip=198.18.9.9 plug=3\n")
    calc = device(translate(config, Facts())[0])
    assert dict(calc.params)["pcmk_host_map"] == "calc:4"
    assert "plug" not in dict(calc.params)


def test_one_plug_for_every_node_is_said(make_config: MakeConfig) -> None:
    config = make_config(extra_hacf="fence fence_apc ip=198.18.9.9 plug=4\n")
    _, notes = translate(config, Facts())
    (said,) = [n for n in notes if "one plug" in n.text]
    assert said.line == 10  # BASE_HACF has 9 lines


def test_an_agent_by_path_must_be_installed(make_config: MakeConfig) -> None:
    config = make_config(extra_hacf="fence /opt/fence/fence_lab socket=/run/x\n")
    cluster, notes = translate(config, Facts())
    assert device(cluster).agent == "stonith:fence_lab"
    assert dict(device(cluster).params)["pcmk_host_list"] == "prime calc"
    assert any("install /opt/fence/fence_lab as /usr/sbin/fence_lab" in n.text for n in notes)


def test_stonith_host_parameters_are_named_from_cluster_glue(make_config: MakeConfig) -> None:
    config = make_config(extra_hacf=f"stonith_host prime external/ipmi calc 198.18.9.2 admin "
                                    f"{SECRET}\n")
    names = ("hostname", "ipaddr", "userid", "passwd", "interface")
    cluster, notes = translate(config, Facts(stonith_params={"external/ipmi": names}))
    ipmi = device(cluster)
    assert ipmi.agent == "stonith:external/ipmi"
    assert dict(ipmi.params) == {"hostname": "calc", "ipaddr": "198.18.9.2",
                                 "userid": "admin", "passwd": SECRET, "pcmk_host_list": "calc"}
    assert any("fences prime" in n.text for n in notes)  # nothing fences prime


def test_stonith_host_without_names_is_said_and_shows_no_secret(
        make_config: MakeConfig) -> None:
    config = make_config(extra_hacf=f"stonith_host * external/ipmi calc 198.18.9.2 {SECRET}\n")
    cluster, notes = translate(config, Facts())
    assert "passwd" not in dict(device(cluster).params)
    assert any("cannot name its parameters" in n.text for n in notes)
    assert not any(SECRET in str(n) for n in notes)
    assert not any(SECRET in line for line in cluster.header)


def test_stonith_with_a_parameter_file_is_said(make_config: MakeConfig) -> None:
    config = make_config(extra_hacf="stonith external/ssh /etc/ha.d/stonith.cfg\n")
    cluster, notes = translate(config, Facts())
    assert device(cluster).agent == "stonith:external/ssh"
    assert any("its parameters are in /etc/ha.d/stonith.cfg" in n.text for n in notes)


def test_fence_delay_is_a_priority_fencing_delay_for_the_first_group(
        make_config: MakeConfig) -> None:
    config = make_config("prime 198.18.1.7\ncalc 198.18.1.8\n",
                         extra_hacf="fence fence_dummy\nfence_delay 5\n")
    cluster, _ = translate(config, Facts())
    assert dict(cluster.properties)["priority-fencing-delay"] == "5s"
    first, second = cluster.groups
    assert (first.meta, second.meta) == ((("priority", "1"),), ())
