"""End to end: Debian's heartbeat 3.0.6 as one node, twinbeat speaking its protocol as the
other (issue #14, step 2), in both role assignments, auto_failback on.

The lab's one group is prime's: the VIP then apache2. Each test starts heartbeat first, then
twinbeat, and waits until prime serves (the client gets prime's page) and twinbeat agrees.
"""

from __future__ import annotations

import signal
import time

import pytest
from heartbeat_lab import Mixed, mixed_lab

from twinbeat.core import PROTOCOL_HEARTBEAT
from twinbeat.lab import plan as lp
from twinbeat.lab.errors import wait_for

pytestmark = [pytest.mark.root, pytest.mark.slow]

ROLES = pytest.mark.parametrize("hb_node", ["prime", "calc"])
TAKEOVER = 20.0  # s: deadtime 1 + heartbeat's start-up of IPaddr and apache2 (~10 s here)


def tty(m: Mixed, node: str) -> str:
    return str(m.lab.plan.tty(node))


@ROLES
def test_both_see_each_other_on_both_links_and_prime_alone_serves(hb_node: str) -> None:
    with mixed_lab(hb_node) as m:
        m.settled("prime")
        tb, hb = m.tb.name, m.hb.name
        hb_log = m.hb.log.read()
        for link in ("eth1", tty(m, hb)):
            assert f"Link {tb}:{link} up." in hb_log, m.logs()
        peer = m.tb_status()["peers"][0]
        assert (peer["alive"], peer["protocol"]) == (True, PROTOCOL_HEARTBEAT)
        assert set(peer["heartbeat"]["links"]) == {"eth1", tty(m, tb)}
        m.one_holder_for(5, "prime")
        errors = [line for line in m.hb.log.read().splitlines()
                  if "ERROR" in line and "Cannot lock ourselves into memory" not in line]
        assert not errors, errors


@ROLES
def test_power_loss_of_prime_calc_takes_over_then_fails_back(hb_node: str) -> None:
    """Kill either node (prime runs heartbeat, or twinbeat): calc takes VIP + apache2 over;
    prime back: auto_failback on gives the group back to it."""
    with mixed_lab(hb_node) as m:
        m.settled("prime")
        m.power_loss("prime")
        m.settled("calc", TAKEOVER)
        m.power_on("prime")
        m.settled("prime", 60)
        m.one_holder_for(3, "prime")


@ROLES
def test_one_link_cut_is_no_takeover(hb_node: str) -> None:
    with mixed_lab(hb_node) as m:
        m.settled("prime")
        deadtime = m.lab.plan.timers.deadtime_s
        mark = m.hb.log.mark()
        m.lab.set_link("prime", lp.HB_IFACE, up=False)
        m.one_holder_for(4 * deadtime, "prime")
        assert f"Link {m.tb.name}:eth1 dead." in m.hb.log.read(mark)
        m.lab.set_link("prime", lp.HB_IFACE, up=True)
        wait_for(lambda: f"Link {m.tb.name}:eth1 up." in m.hb.log.read(mark), 10, "eth1 back")
        m.lab.cable.cut()
        m.one_holder_for(4 * deadtime, "prime")
        m.lab.cable.mend()
        m.one_holder_for(2, "prime")
        assert m.serves("prime")


@ROLES
def test_standby_from_each_side(hb_node: str) -> None:
    """prime goes standby (its own tool), then calc does (its own tool)."""
    with mixed_lab(hb_node) as m:
        m.settled("prime")
        standby("prime", m)
        m.settled("calc", TAKEOVER)
        m.one_holder_for(3, "calc")
        standby("calc", m)
        m.settled("prime", TAKEOVER)


def standby(node: str, m: Mixed) -> None:
    if node == m.hb.name:
        assert m.hb.standby("all").returncode == 0
    else:
        result = m.tb.twinbeat("standby", "all", timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr + m.logs()


@ROLES
def test_graceful_stop_of_prime_hands_over_then_fails_back(hb_node: str) -> None:
    """A graceful stop of either side (prime runs heartbeat, or twinbeat): the group moves to
    calc without waiting for deadtime (heartbeat's shutdone); prime back: failback."""
    with mixed_lab(hb_node) as m:
        m.settled("prime")
        daemon = m.daemon("prime")
        start = time.monotonic()
        if daemon is m.hb:
            m.hb.stop()
        else:
            m.tb.signal(signal.SIGTERM)
            assert m.tb.exit_status(30) == 0, m.logs()
        m.settled("calc", TAKEOVER)
        took = time.monotonic() - start
        assert not m.lab.vip_on("prime") and m.apache("prime") == "stopped"
        daemon.start()
        m.settled("prime", 60)
        print(f"graceful stop of prime ({daemon.__class__.__name__}): calc served after "
              f"{took:.1f} s")
