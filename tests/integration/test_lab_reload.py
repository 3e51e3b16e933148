"""End to end, issue #16: reload the lab's daemons with SIGHUP, apache2 serving throughout.

The lab (docs/lab.md): prime holds the VIP 198.18.1.100 and the real apache2. Both nodes'
files are edited and each daemon gets SIGHUP, what heartbeat admins send (`systemctl reload`
runs `twinbeat reload`, the same reload over the control socket: test_daemon_reload.py).

- a new keepalive takes effect (the heartbeats counted by the link driver);
- a second group (a second address) is added, then removed again: stopped where it ran;
- the group that did not change keeps running undisturbed: the same apache2 PID, the VIP
  never moves and the client's requests keep being answered by prime;
- a broken file changes nothing and its `path:line` error is in the log.
"""

from __future__ import annotations

import signal
import time

import pytest
from lab_fixtures import logs, running_lab

from twinbeat.lab import network
from twinbeat.lab import plan as lp
from twinbeat.lab.errors import wait_for
from twinbeat.lab.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.slow]

VIP2 = "198.18.1.101"
GROUP2 = f"prime IPaddr::{VIP2}/24/eth0\n"


def edit(lab: Lab, name: str, change) -> None:
    for node in lp.NODES:
        path = lab.node(node).files.config_dir / name
        path.write_text(change(path.read_text()))


def sighup_both(lab: Lab) -> None:
    marks = {node: lab.node(node).log.mark() for node in lp.NODES}
    for node in lp.NODES:
        lab.node(node).signal(signal.SIGHUP)
    for node in lp.NODES:
        wait_for(lambda n=node: "reload applied" in lab.node(n).log.read(marks[n]), 15,
                 f"{node} to apply the reload")


def vip2_on(lab: Lab, node: str) -> bool:
    cidrs = [a.cidr for a in network.addresses(lab.netns(node), lp.LAN_IFACE)]
    return f"{VIP2}/{lp.LAN_PREFIX}" in cidrs


def pace(lab: Lab, node: str, seconds: float = 2.0) -> float:
    """Heartbeats per second prime sends on eth1 (the link driver's count)."""
    before = lab.status(node)["drivers"]["eth1"]["sent"]
    time.sleep(seconds)
    return (lab.status(node)["drivers"]["eth1"]["sent"] - before) / seconds


def test_sighup_reloads_in_place_and_apache_never_notices() -> None:
    with running_lab("lab", daemons=True) as lab:
        poller = lab.poller(interval=0.01)
        try:
            wait_for(lambda: lab.converged("prime"), 30, "prime to hold the group")
            assert poller.first("prime", 0, 5), logs(lab)
            apache = lab.apache_pid("prime")
            assert apache is not None
            start = time.monotonic()
            assert pace(lab, "prime") > 6  # keepalive 100ms

            edit(lab, "ha.cf", lambda t: t.replace("keepalive 100ms", "keepalive 250ms"))
            edit(lab, "haresources", lambda t: t + GROUP2)
            sighup_both(lab)
            wait_for(lambda: vip2_on(lab, "prime"), 15, "prime to add the second address")
            assert not vip2_on(lab, "calc")
            assert pace(lab, "prime") < 5  # keepalive 250ms

            hacf = lab.node("prime").files.config_dir / "ha.cf"
            good = hacf.read_text()
            hacf.write_text(good + "keepalive fast\n")
            mark = lab.node("prime").log.mark()
            lab.node("prime").signal(signal.SIGHUP)
            wanted = f"{hacf}:{len(good.splitlines()) + 1}: keepalive fast"
            wait_for(lambda: wanted in lab.node("prime").log.read(mark), 15,
                     "the bad line in the log")
            wait_for(lambda: "reload refused" in lab.node("prime").log.read(mark), 5,
                     "the refusal in the log")
            assert pace(lab, "prime") < 5  # still keepalive 250ms
            assert vip2_on(lab, "prime")
            hacf.write_text(good)

            edit(lab, "haresources", lambda t: t.replace(GROUP2, ""))
            sighup_both(lab)
            wait_for(lambda: not vip2_on(lab, "prime"), 15, "prime to remove the address")
            wait_for(lambda: len(lab.status("prime")["groups"]) == 1, 10,
                     "the removed group forgotten")

            end = time.monotonic()
            assert lab.apache_pid("prime") == apache, logs(lab)  # never restarted
            assert lab.vip_on("prime") and not lab.vip_on("calc")
            time.sleep(2.5)  # a lost request is known REQUEST_TIMEOUT after it started
            assert poller.bodies_between(start, end) == {"prime"}
            assert poller.lost(start, end) == [], logs(lab)
            assert lab.converged("prime"), logs(lab)
        finally:
            poller.close()
