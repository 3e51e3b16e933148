"""ha.cf -> corosync.conf: nodes, links, addresses, timers, and what Corosync cannot carry.

corosync's own parser (`corosync -t`) judges the text in tests/integration.
"""

from __future__ import annotations

from export_helpers import MakeConfig

from twinbeat.export.corosync import MIN_TOKEN_MS, knet_links, render_corosync
from twinbeat.export.facts import Facts
from twinbeat.export.model import Target

UCAST_HACF = """\
keepalive 500ms
deadtime 3
bcast eth1
ucast eth2 198.18.3.1
ucast eth2 198.18.3.2
node prime
node calc
"""


def value(text: str, key: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.strip().startswith(f"{key}:")]


def test_timers_nodes_quorum_and_crypto(make_config: MakeConfig) -> None:
    text, _ = render_corosync(make_config(), Facts(addresses={"prime": ("198.18.2.1",),
                                                              "calc": ("198.18.2.2",)}))
    assert value(text, "token") == ["10000"] and value(text, "consensus") == ["12000"]
    assert value(text, "knet_ping_interval") == ["2000"]
    assert value(text, "knet_ping_timeout") == ["10000"]
    assert value(text, "name") == ["prime", "calc"] and value(text, "nodeid") == ["1", "2"]
    assert value(text, "ring0_addr") == ["198.18.2.1", "198.18.2.2"]
    assert value(text, "two_node") == ["1"]
    assert value(text, "crypto_cipher") == ["aes256"] and "corosync-keygen" in text
    assert value(text, "syslog_facility") == ["local0"]


def test_a_serial_link_is_said_at_its_line(make_config: MakeConfig) -> None:
    config = make_config()
    text, notes = render_corosync(config, Facts())
    (serial,) = [n for n in notes if "serial" in n.text]
    assert (serial.path, serial.line, serial.target) == (
        f"{config.config_dir}/ha.cf", 6, Target.COROSYNC)
    assert f"#   {serial}\n" in text  # said in the file's header too


def test_this_nodes_address_comes_from_its_interface(make_config: MakeConfig) -> None:
    config = make_config(hacf=UCAST_HACF)
    facts = Facts(local_addresses={"eth1": ("198.18.2.1",), "eth2": ("198.18.3.1",)},
                  addresses={"calc": ("198.18.2.2",)})
    links, notes = knet_links(config, facts, "ha.cf")
    assert [k.addresses for k in links] == [("198.18.2.1", "198.18.2.2"),
                                            ("198.18.3.1", "198.18.3.2")]
    assert notes == ()


def test_a_shared_ucast_list_needs_this_nodes_address_to_tell_them_apart(
        make_config: MakeConfig) -> None:
    config = make_config(hacf=UCAST_HACF)
    links, notes = knet_links(config, Facts(), "ha.cf")
    assert [k.addresses for k in links] == [("prime", "calc")]  # link 0: the names
    assert any("eth2: left out" in n.text and n.line == 4 for n in notes)
    assert any("ring0_addr is the name calc" in n.text for n in notes)


def test_a_peer_only_ucast_line_names_the_peer(make_config: MakeConfig) -> None:
    config = make_config(hacf="ucast eth1 198.18.2.2\nnode prime\nnode calc\n")
    links, _ = knet_links(config, Facts(local_addresses={"eth1": ("198.18.2.1",)}), "ha.cf")
    assert links[0].addresses == ("198.18.2.1", "198.18.2.2")


def test_a_deadtime_below_corosyncs_floor_is_raised_and_said(make_config: MakeConfig) -> None:
    config = make_config(hacf="keepalive 10ms\ndeadtime 40ms\nwarntime 25ms\ninitdead 1\n"
                              "bcast eth1\nnode prime\nnode calc\n")
    text, notes = render_corosync(config, Facts())
    assert value(text, "token") == [str(MIN_TOKEN_MS)]
    assert any("below Corosync's shortest token" in n.text for n in notes)


def test_one_node_has_no_two_node_quorum(make_config: MakeConfig) -> None:
    text, _ = render_corosync(make_config(hacf="bcast eth1\nnode prime\n",
                                          haresources="prime 198.18.1.7\n"), Facts())
    assert value(text, "two_node") == [] and value(text, "name") == ["prime"]
