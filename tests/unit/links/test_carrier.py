"""The NIC carrier watch (links/carrier.py): rtnetlink messages, as bytes the kernel would
send, decoded by pyroute2 and applied. The socket itself is tested in the netns integration
tests (tests/integration/test_links_carrier.py)."""

from __future__ import annotations

import socket

from pyroute2.netlink import NLMSG_DONE, nlmsg
from pyroute2.netlink.rtnl import RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.marshal import MarshalRtnl

from twinbeat.links.carrier import IFF_LOWER_UP, IFF_UP, NicCarrier, dump_request, has_carrier

RUNNING = 0x40


def link_msg(name: str, flags: int, operstate: str | None = "UP", *,
             kind: int = RTM_NEWLINK, sequence: int = 0) -> bytes:
    msg = ifinfmsg()
    msg["header"]["type"] = kind
    msg["header"]["sequence_number"] = sequence
    msg["family"] = socket.AF_UNSPEC
    msg["index"] = 7
    msg["flags"] = flags
    msg["attrs"] = [("IFLA_IFNAME", name)] + (
        [("IFLA_OPERSTATE", operstate)] if operstate is not None else [])
    msg.encode()
    return bytes(msg.data)


def done(sequence: int = 1) -> bytes:
    msg = nlmsg()
    msg["header"]["type"] = NLMSG_DONE
    msg["header"]["sequence_number"] = sequence
    msg.encode()
    return bytes(msg.data)


UP = IFF_UP | IFF_LOWER_UP | RUNNING


def decoded(data: bytes) -> list:  # type: ignore[type-arg]
    return list(MarshalRtnl().parse(data))


def test_carrier_needs_admin_up_lower_up_and_an_operstate_up_or_unknown() -> None:
    assert has_carrier(decoded(link_msg("eth1", UP))[0])
    assert has_carrier(decoded(link_msg("eth1", UP, "UNKNOWN"))[0])  # no operstate tracking
    assert has_carrier(decoded(link_msg("eth1", UP, None))[0])
    # A veth whose peer is down: admin up, no lower layer, operstate DOWN.
    assert not has_carrier(decoded(link_msg("eth1", IFF_UP, "DOWN"))[0])
    assert not has_carrier(decoded(link_msg("eth1", UP, "LOWERLAYERDOWN"))[0])
    assert not has_carrier(decoded(link_msg("eth1", UP, "DORMANT"))[0])
    assert not has_carrier(decoded(link_msg("eth1", IFF_LOWER_UP, "DOWN"))[0])  # ip link down


def test_the_dump_request_asks_for_every_link() -> None:
    (msg,) = decoded(dump_request(9))
    assert msg["header"]["type"] == RTM_GETLINK
    assert msg["header"]["sequence_number"] == 9


def test_the_state_at_start_then_each_change_of_our_interface_only() -> None:
    reports: list[bool] = []
    watch = NicCarrier("eth1", reports.append)
    dump = link_msg("lo", UP, "UNKNOWN", sequence=1) + link_msg("eth1", UP, sequence=1)
    assert watch._apply(decoded(dump + done()))
    assert watch._dumped and reports == [True]
    assert not watch._apply(decoded(link_msg("eth0", IFF_UP, "DOWN")))  # not ours
    watch._apply(decoded(link_msg("eth1", UP)))  # a change of something else: no news
    assert reports == [True]
    watch._apply(decoded(link_msg("eth1", IFF_UP, "DOWN")))
    watch._apply(decoded(link_msg("eth1", UP)))
    watch._apply(decoded(link_msg("eth1", UP, kind=RTM_DELLINK)))
    assert reports == [True, False, True, False]
