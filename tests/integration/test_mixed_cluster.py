"""A real twinbeat daemon beside a node that speaks heartbeat 3.0.6 (issue #14, step 1),
with auto_failback legacy, whose hand-off twinbeat does not speak: it holds off.

prime runs twinbeat (its group `dummy`: prime is the primary); calc is `heartbeat_peer.py`,
which sends heartbeat 3.0.6 status messages as heartbeat does: netstring over eth1 to port
694, classic text into the serial cable, signed with the md5 key both nodes' authkeys name.
Through the real drivers, deframer, engine and core, prime must recognise calc on both links,
never start its group while calc is heard, fail over once calc falls silent, and give the
group up when calc speaks heartbeat again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio
from pair import ADDRESSES, DUMMY_SCRIPT, Pair, ha_cf

pytestmark = pytest.mark.root

GUARD = 90
KEY = "hb-lab-secret"
PEER = str(Path(__file__).resolve().parent / "heartbeat_peer.py")


def start_heartbeat_peer(pair: Pair, generation: int) -> None:
    pair.harness.spawn(
        "hb-peer",
        [sys.executable, PEER, "--udp", ADDRESSES["prime"], "--tty", pair.serial_link["calc"],
         "--key", KEY, "--generation", str(generation)],
        netns=pair.ns["calc"], log=pair.calc.files.home / "hb-peer.log",
    )


async def test_twinbeat_holds_off_while_a_heartbeat_peer_speaks(harness, tmp_path):
    with trio.fail_after(GUARD):
        pair = Pair(harness, tmp_path)
        prime = pair.prime
        prime.files.write_config(  # md5: a method heartbeat has
            # legacy: twinbeat stays silent and holds off (step 1); test_heartbeat_e2e.py
            # has twinbeat speaking heartbeat's protocol to the real thing (step 2).
            ha_cf=ha_cf(prime.files, udp=True, serial=pair.serial_link["prime"]).replace(
                "auto_failback on", "auto_failback legacy"),
            authkeys=f"auth 1\n1 md5 {KEY}\n",
            haresources="prime dummy\n",
            scripts={"dummy": DUMMY_SCRIPT.format(node="prime", marker=prime.marker,
                                                  history=prime.history)},
        )
        start_heartbeat_peer(pair, generation=7)
        mark = prime.log.mark()
        prime.start(wait=False)
        tty = pair.serial_link["prime"]
        await pair.until(lambda: all(
            f"Node calc speaks heartbeat 3.0.6 protocol on link {link}" in prime.log.read(mark)
            for link in ("eth1", tty)), "prime recognises calc on both links")

        # Well past initdead (2 s) and deadtime (1 s): prime never starts its own group.
        for _ in range(40):
            await trio.sleep(0.1)
            assert not prime.holds(), prime.log.tail(30)
        peer = prime.status()["peers"][0]
        assert (peer["alive"], peer["protocol"], peer["state"]) == (
            True, "heartbeat-3.0.6", "active")
        assert set(peer["heartbeat"]["links"]) == {"eth1", tty}
        code, status = prime.status_cli()
        assert code == 1 and not status["healthy"]  # degraded: no twinbeat link is up
        text = prime.twinbeat("status", timeout=30).stdout
        assert "protocol heartbeat-3.0.6: speaks heartbeat 3.0.6 on" in text

        # calc falls silent (heartbeat stopped, or the node lost power): prime takes over.
        harness.stop("hb-peer")
        await pair.until(prime.holds, "prime takes its group over once calc is silent")
        log = prime.log.read(mark)
        assert "Node calc: no heartbeat 3.0.6 status for deadtime on any link" in log
        assert "node calc: is dead" in log

        # calc speaks heartbeat again (restarted, a higher generation): prime gives it up.
        start_heartbeat_peer(pair, generation=8)
        await pair.until(lambda: not prime.holds(), "prime gives the group up")
        assert "Node calc runs heartbeat 3.0.6 and takes every resource group" in (
            prime.log.read(mark))
        assert prime.exit_status() is None
