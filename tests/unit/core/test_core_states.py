"""The transition tables (states.py): every rule keyed by (state, trigger enum), nothing else."""

from __future__ import annotations

import pytest

from twinbeat.core import CoreMisuse
from twinbeat.core.states import (
    GROUP_TRANSITIONS,
    GROUP_WIRE,
    PHASE_TRANSITIONS,
    PHASE_WIRE,
    GroupLocal,
    GroupTrigger,
    Phase,
    PhaseTrigger,
    WireGroupState,
    group_step,
    group_step_allowed,
    phase_step,
)


def test_tables_are_keyed_by_states_and_trigger_enums() -> None:
    for (phase, trigger), to in PHASE_TRANSITIONS.items():
        assert (type(phase), type(trigger), type(to)) == (Phase, PhaseTrigger, Phase)
    for (state, gtrigger), gto in GROUP_TRANSITIONS.items():
        assert (type(state), type(gtrigger), type(gto)) == (GroupLocal, GroupTrigger, GroupLocal)


def test_every_trigger_and_state_has_a_rule_and_a_wire_value() -> None:
    assert {t for _, t in PHASE_TRANSITIONS} == set(PhaseTrigger)
    assert {t for _, t in GROUP_TRANSITIONS} == set(GroupTrigger)
    assert {p for p, _ in PHASE_TRANSITIONS} | set(PHASE_TRANSITIONS.values()) == set(Phase)
    assert {s for s, _ in GROUP_TRANSITIONS} | set(GROUP_TRANSITIONS.values()) == set(GroupLocal)
    assert set(PHASE_WIRE) == set(Phase)
    assert set(GROUP_WIRE) == set(GroupLocal)


def test_the_lifecycle_in_order() -> None:
    phase = Phase.BOOT
    for trigger in (PhaseTrigger.STARTED, PhaseTrigger.LEFTOVERS, PhaseTrigger.CLEANED,
                    PhaseTrigger.COMMS_UP, PhaseTrigger.SHUTDOWN, PhaseTrigger.RELEASED):
        phase = phase_step(phase, trigger)
    assert phase is Phase.GONE


def test_a_claim_takes_an_ack_before_the_start() -> None:
    state = group_step(GroupLocal.NONE, GroupTrigger.CLAIM)
    assert state is GroupLocal.CLAIMING
    assert not group_step_allowed(state, GroupTrigger.STARTED)
    assert group_step(state, GroupTrigger.ACKED) is GroupLocal.STARTING


@pytest.mark.parametrize(
    ("phase", "trigger"),
    [(Phase.BOOT, PhaseTrigger.LEFTOVERS), (Phase.GONE, PhaseTrigger.SHUTDOWN),
     (Phase.LEAVING, PhaseTrigger.SHUTDOWN), (Phase.ACTIVE, PhaseTrigger.STARTED)],
)
def test_an_illegal_phase_transition_raises(phase: Phase, trigger: PhaseTrigger) -> None:
    with pytest.raises(CoreMisuse, match=f"'{trigger.value}' is illegal in phase {phase.value}"):
        phase_step(phase, trigger)


@pytest.mark.parametrize(
    ("state", "trigger"),
    [(GroupLocal.NONE, GroupTrigger.ACKED), (GroupLocal.HELD, GroupTrigger.CLAIM),
     (GroupLocal.CLAIMING, GroupTrigger.STARTED), (GroupLocal.FAILED, GroupTrigger.RELEASE),
     (GroupLocal.STOPPING, GroupTrigger.RELEASE)],
)
def test_an_illegal_group_transition_raises(state: GroupLocal, trigger: GroupTrigger) -> None:
    assert not group_step_allowed(state, trigger)
    with pytest.raises(CoreMisuse, match=f"'{trigger.value}' is illegal for a group"):
        group_step(state, trigger)


def test_a_restart_stays_held_on_the_wire_and_a_group_given_up_is_failed() -> None:
    """The peer must not start a group being restarted here; a group given up here is FAILED,
    so ownership (auto_failback included) counts this node out until it is forgiven."""
    restarting = group_step(GroupLocal.HELD, GroupTrigger.RESTART)
    assert GROUP_WIRE[restarting] is WireGroupState.HELD
    assert group_step(restarting, GroupTrigger.RESTARTED) is GroupLocal.HELD
    giving_up = group_step(GroupLocal.HELD, GroupTrigger.GIVE_UP)
    assert GROUP_WIRE[giving_up] is WireGroupState.STOPPING
    given_up = group_step(giving_up, GroupTrigger.STOPPED)
    assert GROUP_WIRE[given_up] is WireGroupState.FAILED
    assert group_step(given_up, GroupTrigger.FORGIVEN) is GroupLocal.NONE
    assert not group_step_allowed(given_up, GroupTrigger.CLAIM)
    assert not group_step_allowed(GroupLocal.RESTARTING, GroupTrigger.RELEASE)
