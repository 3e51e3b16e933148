"""The agents' own error paths: a system error or an interface without ARP, no I/O needed.

EMFILE from `IPRoute()` or `TemporaryFile()` is an AgentError naming the resource (the group
runner would convert it anyway, but the agent can say what it was doing); an interface's
netlink message says whether gratuitous ARP makes sense on it.
"""

from __future__ import annotations

import errno

import pytest

from twinbeat.config.model import IPaddrResource, ScriptResource
from twinbeat.resources import AgentError, ipaddr, process, route, script
from twinbeat.resources.garp import arp_address, mac_bytes


def emfile(*_args: object, **_kwargs: object) -> None:
    raise OSError(errno.EMFILE, "Too many open files")


@pytest.mark.parametrize("op", ["start", "stop", "status", "announce"])
async def test_emfile_from_iproute_is_an_agent_error(monkeypatch, op):
    monkeypatch.setattr(route, "IPRoute", emfile)
    resource = IPaddrResource("IPaddr", "198.18.1.100", 24, "eth0", None, "IPaddr::198.18.1.100")
    agent = ipaddr.IPaddrAgent(resource)
    with pytest.raises(AgentError, match=r"IPaddr::198\.18\.1\.100: netlink: Too many open"):
        await getattr(agent, op)()


@pytest.mark.parametrize("op", ["start", "stop", "status"])
async def test_emfile_from_temporary_file_is_an_agent_error(monkeypatch, tmp_path, op):
    (tmp_path / "resource.d").mkdir()
    (tmp_path / "resource.d" / "web").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "resource.d" / "web").chmod(0o755)
    monkeypatch.setattr(process.tempfile, "TemporaryFile", emfile)
    agent = script.ScriptAgent(ScriptResource("web", (), "web"), str(tmp_path))
    with pytest.raises(AgentError, match=rf"web: {op}: Too many open files"):
        await getattr(agent, op)()


ETHER, NONE, LOOPBACK = 1, 0xFFFE, 772


@pytest.mark.parametrize(("link", "why"), [
    ({"ifi_type": ETHER, "address": "02:00:00:00:00:01", "flags": 0x1043}, ""),
    ({"ifi_type": ETHER, "address": "02:00:00:00:00:01", "flags": 0x1043 | 0x80}, "NOARP"),
    ({"ifi_type": NONE, "address": None, "flags": 0x1091}, "no Ethernet address"),      # tun
    ({"ifi_type": 768, "address": "198.18.0.1", "flags": 0x91}, "no Ethernet address"),  # ipip
    ({"ifi_type": LOOPBACK, "address": "00:00:00:00:00:00", "flags": 0x49},
     "no Ethernet address"),
])
def test_gratuitous_arp_only_where_there_is_arp(link, why):
    mac, why_not = arp_address(link)
    if why:
        assert mac is None and why in why_not
    else:
        assert mac == "02:00:00:00:00:01" and why_not == ""


@pytest.mark.parametrize("text", ["", "02:00:00:00:00", "zz:00:00:00:00:01", "1.2.3.4"])
def test_mac_bytes_refuses_what_is_not_an_ethernet_address(text):
    with pytest.raises(ValueError, match="not an Ethernet address"):
        mac_bytes(text)
    assert mac_bytes("02:00:00:00:00:0A") == bytes([2, 0, 0, 0, 0, 10])
