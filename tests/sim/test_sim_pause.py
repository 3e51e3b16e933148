"""A pause of the whole host in the simulator (core/pause.py, issue #17).

Two nodes that are virtual machines on one host, or the lab's two namespaces on one machine,
stop together when the host does. Frozen together for three deadtimes, and thawed in either
order, neither may declare the other dead, fence it or take anything over: the pause is
nobody's failure. (A freeze of one node alone is a failure of that node, and the random seeds
and test_sim_fence.py cover it.) The script runs with fencing on, on several seeds.
"""

from __future__ import annotations

from typing import ClassVar

import pytest
from sim_cluster import DEADTIME, NAMES
from test_sim_fence import CUT_AT, Scripted, when

from twinbeat.core import StartGroup, StopGroup


class HostPause(Scripted):
    """Both nodes freeze at CUT_AT; `first` thaws a moment before the other."""

    first: ClassVar[int] = 1

    def _schedule_faults(self) -> None:
        self._push(CUT_AT, "freeze", (NAMES[self.first], 3 * DEADTIME))
        self._push(CUT_AT, "freeze", (NAMES[1 - self.first], 3 * DEADTIME + 0.01))


class HostPausePrimaryFirst(HostPause):
    first = 0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("script", [HostPause, HostPausePrimaryFirst])
def test_a_pause_of_both_nodes_kills_nobody_and_moves_nothing(
    seed: int, script: type[HostPause]) -> None:
    sim = script(seed, fault_phase=CUT_AT + 10 * DEADTIME)
    trace = sim.run()  # every property as in every run
    after = [line for line in trace if float(line.split()[0]) >= CUT_AT]
    tail = "\n".join(after[:60])
    assert [line for line in after if "FREEZE" in line], tail
    assert not [line for line in after if "is dead" in line], tail
    assert not [line for line in after if "FENCE" in line or "POWER" in line], tail
    for node in NAMES:
        moved = when(after, node, repr(StartGroup(sim.groups[0].key)))
        moved += when(after, node, repr(StopGroup(sim.groups[0].key)))
        assert not moved, tail
    assert [line for line in after if "was paused for" in line], tail
