"""Statistics read models (for /health and the statistics API) and the arithmetic every store shares."""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, Field, computed_field

from orchestrator.domain.records import ExecutionStatus, WorkflowStatus

#: Outcomes that say whether a workflow works. Cancellation is a person's decision, not a failure.
DECIDED_STATUSES: frozenset[str] = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT}
)


def success_rate(counts_by_status: Mapping[str, int]) -> float | None:
    """completed / (completed + failed + timed_out); None while nothing has been decided."""
    decided = sum(counts_by_status.get(status, 0) for status in DECIDED_STATUSES)
    if decided == 0:
        return None
    return counts_by_status.get(ExecutionStatus.COMPLETED, 0) / decided


def nearest_rank_offset(count: int, percentile: float) -> int | None:
    """0-based offset, in ascending order, of the nearest-rank percentile among ``count`` values.

    Stores fetch the single value at this offset (ORDER BY ... OFFSET / sort().skip()) instead of every
    value, and the same rank definition on every backend gives the same answer.
    """
    if count <= 0:
        return None
    return max(1, math.ceil(percentile / 100 * count)) - 1


class StoreStats(BaseModel):
    """Counts for /health: executions by status and (not deleted) workflows by status."""

    executions_by_status: dict[str, int] = Field(default_factory=dict)
    workflows_by_status: dict[str, int] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def active_executions(self) -> int:
        return self.executions_by_status.get(ExecutionStatus.RUNNING, 0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def queued_executions(self) -> int:
        return self.executions_by_status.get(ExecutionStatus.QUEUED, 0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_workflows(self) -> int:
        return sum(self.workflows_by_status.values())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def active_workflows(self) -> int:
        return self.workflows_by_status.get(WorkflowStatus.ACTIVE, 0)


class WorkflowStats(BaseModel):
    """One workflow's execution statistics. Durations (seconds) cover executions that have one."""

    workflow_id: str
    executions_by_status: dict[str, int] = Field(default_factory=dict)
    average_duration: float | None = None
    p95_duration: float | None = None
    #: step id -> how many executions ended with that step failed
    failures_by_step: dict[str, int] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_executions(self) -> int:
        return sum(self.executions_by_status.values())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def success_rate(self) -> float | None:
        return success_rate(self.executions_by_status)
