"""End to end with the real heartbeat 3.0.6 as one node and twinbeat as the other (issue #14).

Step 1, with `auto_failback legacy` (heartbeat's ip-request hand-off, which twinbeat does not
speak): twinbeat recognises heartbeat's messages on eth1 (UDP netstring) and on the serial
cable (classic text), logs one line per link, holds off (never takes the VIP while heartbeat
is heard), and says so in `twinbeat status`. It stays silent, so heartbeat declares the
twinbeat node dead after initdead and takes the group (its mach_down): one holder, the
heartbeat node, in both role assignments.
"""

from __future__ import annotations

import time

import pytest
from heartbeat_lab import HOLD_OFF_LINE, mixed_lab

from twinbeat.core import PROTOCOL_HEARTBEAT
from twinbeat.lab.errors import wait_for

pytestmark = [pytest.mark.root, pytest.mark.slow]

TTY_SUFFIX = ".tty"


@pytest.mark.parametrize("hb_node", ["prime", "calc"])
def test_heartbeat_is_recognised_on_both_links_and_twinbeat_holds_off(hb_node: str) -> None:
    with mixed_lab(hb_node, auto_failback="legacy") as m:
        def recognised() -> bool:
            peer = m.tb_status()["peers"][0]
            links = (peer.get("heartbeat") or {}).get("links", {})
            return peer["protocol"] == PROTOCOL_HEARTBEAT and len(links) == 2
        wait_for(recognised, 15, "twinbeat to hear heartbeat on eth1 and the cable")
        # heartbeat's initdead (3 s), then its IPaddr and apache2 starts: ~10 s here, and
        # twice that under a full test run's load (20 s was missed once).
        wait_for(lambda: m.serves(hb_node), 45, f"{hb_node} (heartbeat) to serve the VIP")

        # Far past both initdeads (3 s) and deadtimes (1 s): one holder all along.
        end = time.monotonic() + 6
        while time.monotonic() < end:
            assert m.holders() == {hb_node}, m.logs()
            time.sleep(0.05)
        assert m.apache(m.tb.name) == "stopped"
        assert m.lab.get() == hb_node

        status = m.tb_status()
        (peer,) = status["peers"]
        assert (peer["name"], peer["alive"], peer["protocol"]) == (hb_node, True,
                                                                    PROTOCOL_HEARTBEAT)
        links = peer["heartbeat"]["links"]
        assert "eth1" in links and any(name.endswith(TTY_SUFFIX) for name in links)
        assert all(link["messages"] > 10 for link in links.values())
        assert status["groups"][0]["state"] == "none" and not status["healthy"]
        text = m.tb.twinbeat("status", timeout=30).stdout
        assert "holding off" in text and "speaks heartbeat 3.0.6" in text, text

        # One line per link, naming the peer and the link.
        said = [line for line in m.tb.log.read().splitlines() if HOLD_OFF_LINE in line]
        assert len(said) == 2, said
        assert any(f"Node {hb_node} {HOLD_OFF_LINE} eth1:" in line for line in said)
        assert any(TTY_SUFFIX in line for line in said)
        # heartbeat, unable to hear twinbeat in step 1, took the group by its mach_down.
        hb_log = m.hb.log.read()
        assert f"node {m.tb.name}: is dead" in hb_log
        assert "Cannot lock ourselves into memory" in hb_log  # harmless here (issue #14)
