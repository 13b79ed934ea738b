"""The execution lifecycle: which status may follow which."""

from __future__ import annotations

import pytest

from orchestrator.domain.lifecycle import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATUSES,
    InvalidTransition,
    can_transition,
    check_transition,
    is_terminal,
)
from orchestrator.domain.records import ExecutionStatus

ALLOWED = {
    ("queued", "running"),
    ("queued", "cancelled"),
    ("running", "paused"),
    ("running", "completed"),
    ("running", "failed"),
    ("running", "cancelled"),
    ("running", "timed_out"),
    ("paused", "running"),
    ("paused", "cancelled"),
    ("paused", "completed"),
    ("paused", "failed"),
    ("paused", "timed_out"),
}


@pytest.mark.parametrize("current", list(ExecutionStatus))
@pytest.mark.parametrize("target", list(ExecutionStatus))
def test_exactly_the_documented_transitions_are_allowed(
    current: ExecutionStatus, target: ExecutionStatus
) -> None:
    assert can_transition(current, target) is ((current.value, target.value) in ALLOWED)


def test_every_status_has_a_rule_and_terminal_ones_lead_nowhere() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(ExecutionStatus)
    assert all(not ALLOWED_TRANSITIONS[status] for status in TERMINAL_STATUSES)
    assert is_terminal("timed_out") and not is_terminal("paused")


def test_an_invalid_transition_names_both_statuses() -> None:
    with pytest.raises(InvalidTransition) as refused:
        check_transition("completed", "running")
    assert (refused.value.current, refused.value.target) == (
        ExecutionStatus.COMPLETED,
        ExecutionStatus.RUNNING,
    )
    assert str(refused.value) == "execution is completed; cannot move to running"
    check_transition("paused", "running")  # allowed: no error
