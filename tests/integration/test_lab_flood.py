"""bench/flood.py's parts: the flood host on the heartbeat cable and the sendmmsg sender."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from lab_fixtures import running_lab

from twinbeat.lab import network
from twinbeat.lab import plan as lp
from twinbeat.lab.flood import read_payloads, write_payloads

pytestmark = [pytest.mark.root, pytest.mark.slow]

RECEIVER = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'eth1')\n"
    "s.bind(('0.0.0.0', 694)); s.settimeout(3)\n"
    "seen = {}\n"
    "try:\n"
    "    while True:\n"
    "        data, (addr, _port) = s.recvfrom(600)\n"
    "        seen[(addr, data)] = seen.get((addr, data), 0) + 1\n"
    "except socket.timeout:\n"
    "    pass\n"
    "for (addr, data), n in sorted(seen.items()):\n"
    "    print(addr, data.decode(), n)\n"
)


def test_payload_files_round_trip(tmp_path) -> None:
    path = tmp_path / "p"
    write_payloads(path, [b"a", b"", b"x" * 300])
    assert read_payloads(path) == [b"a", b"", b"x" * 300]


def test_the_flood_host_reaches_calcs_heartbeat_port_over_the_cable() -> None:
    with running_lab() as lab:
        netns = lab.flood_host("calc")
        assert netns == lab.netns(lp.FLOOD_ROLE)
        links = network.links(netns)
        assert [a.cidr for a in links["eth1"].addresses] == [f"{lp.FLOOD_ADDR}/24"]
        assert network.default_routes(netns) == []
        listener = lab.harness.spawn("listener", [sys.executable, "-c", RECEIVER],
                                     netns=lab.netns("calc"), stdout=subprocess.PIPE)
        try:
            time.sleep(0.3)
            payloads = lab.plan.run_dir / "payloads"
            write_payloads(payloads, [b"one", b"two"])
            sent = lab.harness.run(
                [sys.executable, "-m", "twinbeat.lab.flood", lp.HB_ADDR["calc"], "694",
                 str(payloads), "--duration", "0.5", "--rate", "2000"], netns)
            assert sent.returncode == 0, sent.stderr
            result = json.loads(sent.stdout)
            assert 500 <= result["sent"] <= 1300 and result["errors"] == 0
            out, _ = listener.communicate(timeout=10)
        finally:
            lab.harness.stop("listener")
        lines = out.decode().split()
        assert lines[0:2] == [lp.FLOOD_ADDR, "one"] and lines[3:5] == [lp.FLOOD_ADDR, "two"]
        assert int(lines[2]) + int(lines[5]) == result["sent"]  # nothing lost at this rate
    assert not network.exists(netns)  # removed with the lab
