"""The one-sided false takeover of issue #11 (item 12), scripted in the simulator.

alpha holds the group (its primary, auto_failback on). bravo stops hearing alpha on both
links while alpha still hears bravo (a one-way cut: a stalled receive path), so bravo
declares alpha dead, starts the group and sends its GARP. The cut ends the moment bravo has
issued its StartGroup: bravo hears alpha again while its start is still running, so its
frames go STARTING -> STOPPING (its GroupStarted and its release fall in one settle) and
alpha never sees it HELD — the case heartbeat-style split-brain detection misses. alpha
never stops anything; the property is that it re-announces, so that the client (sim_arp)
is back on alpha at the latest a moment after bravo's stop.

Each seed varies the agents' and the network's timing; the faults are only the script's.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from sim_cluster import KEEPALIVE, NAMES, Simulation
from sim_network import LINKS

from twinbeat.core import Announce, GroupSpec, StartGroup, StopGroup
from twinbeat.engine import Output

KEY = "198.18.1.100"
CUT_AT = 30.0
BACK_WITHIN = 2 * KEEPALIVE  # after bravo's stop: its NONE frame, then alpha's announce


class OneSided(Simulation):
    """Healthy links and agents; one one-way cut (alpha -> bravo) that ends at bravo's start."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.auto_failback = True
        self.ping_configured = False
        self.groups = (GroupSpec(key=KEY, primary=NAMES[0]),)
        self.fail_start = self.fail_stop = self.replay_rate = 0.0
        self.monitor.off()
        self.fence.enabled = False  # the false takeover without fencing (with it: sim_fence)
        self.net.heal(self.now)  # lossless, no duplicates
        self.cut_ended: float | None = None

    def _schedule_faults(self) -> None:
        self._push(CUT_AT, "one_way_cut", True)

    def _one_way_cut(self, cut: bool) -> None:
        self.trace.append(f"{self.now:.6f} FAULT alpha -> bravo {'cut' if cut else 'restored'}")
        for link in LINKS:
            self.net.models[(NAMES[0], NAMES[1], link)].cut = cut

    def _act(self, name: str, output: Output) -> None:
        super()._act(name, output)
        if name == NAMES[1] and isinstance(output, StartGroup) and self.cut_ended is None:
            self.cut_ended = self.now
            self._one_way_cut(False)

    _handlers: ClassVar[dict[str, Any]] = {
        **Simulation._handlers,
        "one_way_cut": lambda s, cut: s._one_way_cut(cut),
    }


def _when(trace: list[str], node: str, what: str) -> list[float]:
    return [float(line.split()[0]) for line in trace if f" {node} {what}" in line]


@pytest.mark.parametrize("seed", range(12))
def test_a_one_sided_false_takeover_ends_with_the_client_on_the_holder(seed: int) -> None:
    sim = OneSided(seed, fault_phase=CUT_AT + 20)
    trace = sim.run()  # every property, the ARP entry after healing included
    alpha, bravo = NAMES
    start = _when(trace, bravo, repr(StartGroup(KEY)))
    assert start and sim.cut_ended == pytest.approx(start[0], abs=1e-5), "\n".join(trace[-30:])
    assert _when(trace, bravo, repr(StopGroup(KEY))), "bravo never gave the group back"
    assert not _when(trace, alpha, repr(StopGroup(KEY))), "alpha must keep the group"
    announces = [t for t in _when(trace, alpha, repr(Announce(KEY))) if t >= start[0]]
    assert announces, "alpha never re-announced after bravo's false takeover"
    # The client went to bravo (its start's GARP) and is back on alpha right after bravo's
    # stop: alpha's last announce follows bravo's NONE frame.
    moves = [(t, node) for t, key, node in sim.arp.history if key == KEY and t >= CUT_AT]
    assert [node for _, node in moves][-2:] == [bravo, alpha], moves
    released = _when(trace, bravo, f"Log(level='info', message='Resource group {KEY} released')")
    assert released and moves[-1][0] <= released[-1] + BACK_WITHIN, (moves, released)
