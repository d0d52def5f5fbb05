from __future__ import annotations

import pytest

from core.lifecycle import (
    FINAL_STATES,
    TRANSITIONS,
    InvalidTransition,
    ServerState,
    check_transition,
)


def test_every_state_has_an_entry_and_final_states_lead_nowhere():
    assert set(TRANSITIONS) == set(ServerState)
    for state in FINAL_STATES:
        assert TRANSITIONS[state] == frozenset()


def test_every_live_state_can_reach_error_and_termination_paths_end_final():
    for state in set(ServerState) - FINAL_STATES:
        assert ServerState.ERROR in TRANSITIONS[state]
    assert TRANSITIONS[ServerState.TERMINATING] == {ServerState.TERMINATED, ServerState.ERROR}


def test_an_invalid_transition_names_both_states_and_what_is_allowed():
    with pytest.raises(InvalidTransition) as err:
        check_transition(ServerState.TERMINATED, ServerState.EXECUTING)
    message = str(err.value)
    assert "TERMINATED" in message and "EXECUTING" in message and "final state" in message


def test_executing_cannot_skip_back_to_ready():
    with pytest.raises(InvalidTransition):
        check_transition(ServerState.EXECUTING, ServerState.READY)
    check_transition(ServerState.EXECUTING, ServerState.IDLE)
