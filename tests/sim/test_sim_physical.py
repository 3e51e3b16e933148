"""Physical links in the simulator (issue #17): scripted power losses, pulled cables and a
killed daemon, and the mutation checks of properties 8a-8c (sim_physical.py).

The random seeds of test_sim_properties.py pull cables, cut machines' power and report
carrier in most runs, and check every property on every step. The scripts here pin down what
the issue promises, each on several seeds (they vary the agents' and the network's timing):

- **power loss**: the survivor takes over within the drivers' report delay, not at
  deadtime; with fencing, the fence comes first;
- **both cables pulled** (it looks exactly like a power loss): without fencing both hold
  the group while the cables are out (the no-link exemption) and one gives it back once
  they are in; with fencing the preferred node fences the other at once and never stops;
- **a killed daemon** whose NIC keeps its carrier (its serial line's DTR drops with HUPCL):
  the survivor still waits deadtime.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from sim_cluster import AGENT_MAX, DEADTIME, KEEPALIVE, NAMES, PROBE_MAX, Simulation
from sim_network import LINKS
from test_sim_properties import DEFAULT_RUNS, first_violation

from twinbeat.core import GroupSpec, StartGroup, StopGroup
from twinbeat.core import membership as membership_module
from twinbeat.core.liveness import LinkTracker, carrier_report
from twinbeat.engine import Transmit

A = "198.18.1.100"  # primary alpha: the first haresources line
B = "198.18.1.101"  # primary bravo
AT = 30.0  # when the fault strikes
FOR = 20.0  # how long a cable stays out, or a daemon down
REPORTED = 0.02  # the slowest driver report (sim_physical: 12 ms) and a little


class Scripted(Simulation):
    """Healthy links and agents, carrier reported, one group, the faults of a script."""

    fencing: ClassVar[bool] = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.auto_failback = True
        self.ping_configured = False
        self.groups = (GroupSpec(key=A, primary=NAMES[0]),)
        self.fail_start = self.fail_stop = self.replay_rate = 0.0
        self.monitor.off()
        self.net.heal(self.now)
        for (_src, _dst, link), model in self.net.models.items():
            if link == LINKS[0]:
                model.max_delay = 0.002  # a crossover cable: the serial line is the slow one
        self.physical.reported = True
        self.physical.hupcl = True
        fence = self.fence
        if self.fencing and not fence.enabled:
            self.bound += fence.extra_bound(PROBE_MAX + 2 * KEEPALIVE + 2 * AGENT_MAX)
            self.end = self.heal_at + self.bound
        fence.enabled = self.fencing
        fence.delay = 5.0
        fence.devices = dict.fromkeys(NAMES, "ok")

    def _schedule_faults(self) -> None:
        self._push(AT, "script", None)

    def _send(self, src: str, tx: Transmit) -> None:
        self.trace.append(f"{self.now:.6f} {src} SEND")  # for the failback's timeline
        super()._send(src, tx)

    def script(self) -> None:
        raise NotImplementedError

    _handlers: ClassVar[dict[str, Any]] = {
        **Simulation._handlers,
        "script": lambda s, _p: s.script(),
    }


class PowerLoss(Scripted):
    def script(self) -> None:
        self.trace.append(f"{self.now:.6f} FAULT alpha loses power")
        self.fence.power_off(NAMES[0], why="power loss")


class PowerLossFenced(Scripted):
    """bravo, serving its own group B, loses power; alpha serves the first line, so it has
    the head start and fences at once (the head start is a delay for the other node)."""

    fencing = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.groups += (GroupSpec(key=B, primary=NAMES[1]),)

    def script(self) -> None:
        self.trace.append(f"{self.now:.6f} FAULT bravo loses power")
        self.fence.power_off(NAMES[1], why="power loss")


class PullBoth(Scripted):
    def script(self) -> None:
        self.trace.append(f"{self.now:.6f} FAULT both cables pulled")
        self.physical.pull(LINKS, FOR)


class PullBothFenced(PullBoth):
    fencing = True


class KillDaemon(Scripted):
    def script(self) -> None:
        self.trace.append(f"{self.now:.6f} FAULT alpha's daemon killed")
        self._crash_for(NAMES[0], FOR)


def when(trace: list[str], node: str, what: str) -> list[float]:
    return [float(line.split()[0]) for line in trace if f" {node} {what}" in line]


def after(times: list[float], t: float = AT) -> list[float]:
    return [x for x in times if x >= t]


SEEDS = range(6)


@pytest.mark.parametrize("seed", SEEDS)
def test_power_loss_is_taken_over_within_the_drivers_report_not_deadtime(seed: int) -> None:
    trace = PowerLoss(seed, fault_phase=AT + FOR).run()
    alpha, bravo = NAMES
    tail = "\n".join(trace[-40:])
    starts = after(when(trace, bravo, repr(StartGroup(A))))
    assert starts and starts[0] < AT + REPORTED, tail
    assert when(trace, bravo, "Log(level='warning', message='node alpha: is dead')")[0] < (
        AT + REPORTED)
    assert when(trace, alpha, "POWER ON"), tail  # and it comes back: the failback follows
    assert after(when(trace, bravo, repr(StopGroup(A)))), tail


SERIAL_MAX = 0.06  # the slowest one-way delay of the (lossless, FIFO) serial model


@pytest.mark.parametrize("seed", SEEDS)
def test_failback_is_a_few_one_way_delays_plus_the_stop_not_keepalive_ticks(seed: int) -> None:
    """Send on change (heartbeat.py): alpha, back from its power loss, hears bravo and is
    heard within round trips (a frame we can only echo is answered at once); bravo releases
    as soon as it sees alpha active, and alpha starts a few one-way delays after bravo's stop
    (released, claimed, acked), never waiting for a keepalive (1 s here)."""
    trace = PowerLoss(seed, fault_phase=AT + FOR).run()
    alpha, bravo = NAMES
    tail = "\n".join(trace[-40:])
    on = when(trace, alpha, "POWER ON")[0]
    spoke = after(when(trace, alpha, "SEND"), on)[0]  # its first heartbeat, after the probe
    active = after(when(trace, alpha, "Log(level='info', message='Comms up"), on)[0]
    release = after(when(trace, bravo, repr(StopGroup(A))), on)[0]
    gone = f"Log(level='info', message='Resource group {A} released')"
    released = after(when(trace, bravo, gone), on)[0]
    start = after(when(trace, alpha, repr(StartGroup(A))), on)[0]
    assert active - spoke < 4 * SERIAL_MAX, tail  # each side answers the other at once
    assert release - active < 2 * SERIAL_MAX, tail  # active -> bravo hears it, releases
    assert start - released < 4 * SERIAL_MAX, tail  # released, claimed, acked
    assert start - on < PROBE_MAX + AGENT_MAX + 8 * SERIAL_MAX < KEEPALIVE + AGENT_MAX, tail


@pytest.mark.parametrize("seed", SEEDS)
def test_power_loss_with_fencing_fences_first_then_takes_over(seed: int) -> None:
    trace = PowerLossFenced(seed, fault_phase=AT + FOR).run()
    alpha, _bravo = NAMES
    tail = "\n".join(trace[-40:])
    dead = when(trace, alpha, "Log(level='warning', message='node bravo: is dead')")
    fences = after(when(trace, alpha, "FENCE bravo"))
    fenced = when(trace, alpha, "Log(level='info', message='node bravo now reset')")
    starts = after(when(trace, alpha, repr(StartGroup(B))))
    assert dead and dead[0] < AT + REPORTED, tail
    assert fences and fences[0] < AT + REPORTED, tail
    assert fenced and starts and fenced[0] <= starts[0] < AT + REPORTED + 2.0, tail


@pytest.mark.parametrize("seed", SEEDS)
def test_both_cables_pulled_without_fencing_both_hold_until_they_are_back(seed: int) -> None:
    trace = PullBoth(seed, fault_phase=AT + FOR + 10).run()
    alpha, bravo = NAMES
    tail = "\n".join(trace[-40:])
    starts = after(when(trace, bravo, repr(StartGroup(A))))
    assert starts and starts[0] < AT + REPORTED, tail  # the no-link exemption
    assert not when(trace, alpha, repr(StopGroup(A))), tail  # alpha keeps serving
    stops = after(when(trace, bravo, repr(StopGroup(A))), AT + FOR)
    assert stops and stops[0] < AT + FOR + DEADTIME, tail  # and bravo gives it back


@pytest.mark.parametrize("seed", SEEDS)
def test_both_cables_pulled_with_fencing_leave_one_survivor_at_once(seed: int) -> None:
    trace = PullBothFenced(seed, fault_phase=AT + FOR + 10).run()
    alpha, bravo = NAMES
    tail = "\n".join(trace[-40:])
    fences = after(when(trace, alpha, "FENCE bravo"))
    assert fences and fences[0] < AT + REPORTED, tail  # the head start is alpha's
    assert when(trace, bravo, f"POWER OFF (fenced by {alpha})"), tail
    assert not when(trace, alpha, "POWER OFF"), tail
    assert not when(trace, alpha, repr(StopGroup(A))), tail
    assert not [t for t in when(trace, bravo, repr(StartGroup(A))) if t < AT + FOR]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_killed_daemon_whose_nic_keeps_its_carrier_waits_deadtime(seed: int) -> None:
    trace = KillDaemon(seed, fault_phase=AT + FOR + 10).run()
    _alpha, bravo = NAMES
    tail = "\n".join(trace[-40:])
    lost = after(when(trace, bravo, "Log(level='warning', message='Link alpha:/dev/ttyS0 dead "
                                    "(carrier lost).')"))
    assert lost and lost[0] < AT + REPORTED, tail  # its DTR dropped with the process
    starts = after(when(trace, bravo, repr(StartGroup(A))))
    # alpha's last heartbeat left at most a keepalive before it was killed.
    assert starts and AT - KEEPALIVE + DEADTIME <= starts[0] < AT + DEADTIME + 1, tail


# ---------------------------------------------------------------------- mutation checks


def test_property_8a_catches_a_core_that_takes_one_lost_carrier_for_the_peers_death(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A core that declares the peer dead when one link loses its carrier (the other one
    still heard) breaks 8a, and some seed reports it."""

    def eager(links, link, up, last_ts, peer_alive):  # type: ignore[no-untyped-def]
        news, killed = carrier_report(links, link, up, last_ts, peer_alive)
        if killed:
            for lt in links.values():
                lt.mark_dead()
        return news, killed

    monkeypatch.setattr(membership_module, "carrier_report", eager)
    found = first_violation(range(DEFAULT_RUNS), "(8a)")
    assert found is not None, found


def test_property_8b_catches_a_core_that_ignores_the_carrier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A core that waits deadtime whatever the drivers say breaks 8b."""
    monkeypatch.setattr(membership_module, "carrier_report",
                        lambda links, link, up, last_ts, peer_alive: (None, False))
    found = first_violation(range(DEFAULT_RUNS), "(8b)")
    assert found is not None, found


def test_property_8c_catches_a_core_that_believes_frames_sent_before_the_loss(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A core that lets any fresh frame prove a link after its carrier loss is revived by
    the peer's frames still in flight after it lost power, and some seed reports it."""
    monkeypatch.setattr(LinkTracker, "proves_link", lambda self, echo_ms: True)
    found = first_violation(range(DEFAULT_RUNS), "(8c)")
    assert found is not None, found
