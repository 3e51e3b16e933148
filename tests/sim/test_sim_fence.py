"""Fencing in the simulator (issue #13): scripted races and hangs, and the mutation check.

The random seeds of test_sim_properties.py configure fencing in about half the runs and check
the stronger safety property on every step (sim_fence.py). The scripts here pin down the
outcomes the issue promises:

- **both cables cut**: both nodes race; the node serving the first haresources group (its
  primary) fences the other and keeps serving without a single stop; the loser, powered on
  again while the cables are still cut, waits for its peer instead of fencing it back;
- **a hung holder**: the peer fences it before it takes anything over; with a fence device
  that never works, it takes nothing over, and the holder, once it resumes, keeps serving.

Each script runs on several seeds (they vary the agents' and the network's timing).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from sim_cluster import AGENT_MAX, DEADTIME, KEEPALIVE, NAMES, PROBE_MAX, Simulation
from sim_network import LINKS
from test_sim_properties import DEFAULT_RUNS, first_violation

from twinbeat.core import GroupSpec, StartGroup, StopGroup
from twinbeat.core.fencing import Fencing
from twinbeat.core.states import FenceState

A = "198.18.1.100"  # primary alpha: the first haresources line
B = "198.18.1.101"  # primary bravo
CUT_AT = 30.0
CUT_FOR = 60.0


class Scripted(Simulation):
    """Healthy links and agents, fencing on with a 5 s head start, the faults of a script."""

    devices: ClassVar[tuple[str, str]] = ("ok", "ok")
    two_groups: ClassVar[bool] = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.auto_failback = True
        self.ping_configured = False
        self.groups = (GroupSpec(key=A, primary=NAMES[0]),)
        if self.two_groups:
            self.groups += (GroupSpec(key=B, primary=NAMES[1]),)
        self.fail_start = self.fail_stop = self.replay_rate = 0.0
        self.monitor.off()  # no service failures: the script's are the only faults
        self.net.heal(self.now)  # lossless, no duplicates
        fence = self.fence
        if not fence.enabled:
            fence.enabled = True
            self.bound += fence.extra_bound(PROBE_MAX + 2 * KEEPALIVE + 2 * AGENT_MAX)
            self.end = self.heal_at + self.bound
        fence.delay = 5.0
        fence.devices = dict(zip(NAMES, self.devices, strict=True))

    def _cut_both(self, cut: bool) -> None:
        self.trace.append(f"{self.now:.6f} FAULT both links {'cut' if cut else 'restored'}")
        for link in LINKS:
            self.net.set_cut(*NAMES, link, cut, self.now)

    _handlers: ClassVar[dict[str, Any]] = {
        **Simulation._handlers,
        "cut_both": lambda s, cut: s._cut_both(cut),
        "freeze": lambda s, p: s.fence.freeze(*p),
    }


class BothCut(Scripted):
    def _schedule_faults(self) -> None:
        self._push(CUT_AT, "cut_both", True)
        self._push(CUT_AT + CUT_FOR, "cut_both", False)


class BothCutTwoGroups(BothCut):
    two_groups = True


class HungHolder(Scripted):
    """alpha, holding A, hangs for three deadtimes (its resources keep running)."""

    def _schedule_faults(self) -> None:
        self._push(CUT_AT, "freeze", (NAMES[0], 3 * DEADTIME))


class HungHolderNoDevice(HungHolder):
    devices = ("ok", "hang")  # bravo's device never answers


def when(trace: list[str], node: str, what: str) -> list[float]:
    return [float(line.split()[0]) for line in trace if f" {node} {what}" in line]


def run(sim: Simulation) -> list[str]:
    trace = sim.run()  # every property: never two machines running a group, liveness
    return trace


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("script", [BothCut, BothCutTwoGroups])
def test_both_cables_cut_leave_one_survivor_that_never_stops_serving(
    seed: int, script: type[BothCut]
) -> None:
    sim = script(seed, fault_phase=CUT_AT + CUT_FOR + 10)
    trace = run(sim)
    alpha, bravo = NAMES
    tail = "\n".join(trace[-40:])
    assert when(trace, bravo, f"POWER OFF (fenced by {alpha})"), tail
    assert not when(trace, alpha, "POWER OFF"), tail
    assert not when(trace, alpha, repr(StopGroup(A))), "the survivor stopped its group"
    assert not [t for t in when(trace, bravo, repr(StartGroup(A))) if t < CUT_AT + CUT_FOR]
    # bravo, powered on again while the cables are still cut, waits: no fence loop.
    power_on = when(trace, bravo, "POWER ON")
    assert power_on and power_on[0] < CUT_AT + CUT_FOR, tail
    assert not [t for t in when(trace, bravo, "FENCE") if t > power_on[0]], tail
    if script.two_groups:
        took_b = when(trace, alpha, repr(StartGroup(B)))
        assert [t for t in took_b if CUT_AT < t < CUT_AT + CUT_FOR], tail


@pytest.mark.parametrize("seed", range(6))
def test_a_hung_holder_is_fenced_before_its_group_is_taken_over(seed: int) -> None:
    sim = HungHolder(seed, fault_phase=CUT_AT + 40)
    trace = run(sim)
    alpha, bravo = NAMES
    off = when(trace, alpha, f"POWER OFF (fenced by {bravo})")
    starts = [t for t in when(trace, bravo, repr(StartGroup(A))) if t > CUT_AT]
    assert off and starts and off[0] <= starts[0], "\n".join(trace[-40:])


@pytest.mark.parametrize("seed", range(6))
def test_without_a_working_fence_device_a_hung_holder_keeps_its_group(seed: int) -> None:
    sim = HungHolderNoDevice(seed, fault_phase=CUT_AT + 40)
    trace = run(sim)
    alpha, bravo = NAMES
    assert when(trace, bravo, "FENCE"), "\n".join(trace[-40:])
    assert not when(trace, alpha, "POWER OFF")
    assert not when(trace, bravo, repr(StartGroup(A)))
    assert not when(trace, alpha, repr(StopGroup(A)))


def test_the_safety_check_catches_a_takeover_that_does_not_wait_for_the_fence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mutation check: a core that takes over from a dead peer without a confirmed fence (as
    without fencing) makes two holders with fencing configured — both cables cut, or a hung
    holder — and some seed reports it."""
    monkeypatch.setattr(Fencing, "takeover_ok", lambda self: True)
    found = first_violation(range(DEFAULT_RUNS))
    assert found is not None and "held by both" in found and "fencing=on" in found, found


def test_the_safety_check_catches_a_takeover_from_a_peer_unseen_since_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mutation check of the start-up rule: taking over from a peer not heard since start-up
    once initdead is over (Pacemaker's startup-fencing=false) makes two holders — a node
    restarted while its peer's crashed daemon left the groups running, or powered on behind
    cut cables after the peer fenced it — and some seed reports it."""
    allowed = (FenceState.IDLE, FenceState.FENCED, FenceState.UNSEEN)
    monkeypatch.setattr(Fencing, "takeover_ok",
                        lambda self: not self.enabled or self.state in allowed)
    found = first_violation(range(DEFAULT_RUNS))
    assert found is not None and "held by both" in found and "fencing=on" in found, found
