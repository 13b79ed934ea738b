"""The execution lifecycle: which status may follow which.

    queued ─► running ⇄ paused
      │         │        │
      │         ├────────┴──► completed | failed | cancelled | timed_out
      └──────────────────────► cancelled

Terminal statuses have no successors: a retry is a new execution (``retry_of`` points back), so history
is never rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.domain.records import ExecutionStatus

QUEUED = ExecutionStatus.QUEUED
RUNNING = ExecutionStatus.RUNNING
PAUSED = ExecutionStatus.PAUSED

TERMINAL_STATUSES: frozenset[ExecutionStatus] = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.TIMED_OUT}
)

ALLOWED_TRANSITIONS: Mapping[ExecutionStatus, frozenset[ExecutionStatus]] = {
    QUEUED: frozenset({RUNNING, ExecutionStatus.CANCELLED}),
    RUNNING: frozenset({PAUSED, *TERMINAL_STATUSES}),
    # a paused execution ends when the steps that were running at the pause were its last ones
    PAUSED: frozenset({RUNNING, *TERMINAL_STATUSES}),
    **{status: frozenset() for status in TERMINAL_STATUSES},
}


class InvalidTransition(Exception):
    """The execution is in ``current``, from which ``target`` is not reachable (or not the expected status).

    ``current`` is what the store holds at the moment of the attempt, so a caller that lost a race learns
    what won it.
    """

    def __init__(self, current: ExecutionStatus | str, target: ExecutionStatus | str) -> None:
        self.current = ExecutionStatus(current)
        self.target = ExecutionStatus(target)
        super().__init__(f"execution is {self.current.value}; cannot move to {self.target.value}")


def can_transition(current: ExecutionStatus | str, target: ExecutionStatus | str) -> bool:
    return ExecutionStatus(target) in ALLOWED_TRANSITIONS[ExecutionStatus(current)]


def check_transition(current: ExecutionStatus | str, target: ExecutionStatus | str) -> None:
    if not can_transition(current, target):
        raise InvalidTransition(current, target)


def is_terminal(status: ExecutionStatus | str) -> bool:
    return ExecutionStatus(status) in TERMINAL_STATUSES
