"""The equality filters of the list queries, by stored field: each store turns them into its own query."""

from __future__ import annotations

from typing import Any

from orchestrator.domain.records import ExecutionStatus, WorkflowStatus


def _given(**values: Any) -> dict[str, Any]:
    # None means the caller did not filter on the field
    return {name: value for name, value in values.items() if value is not None}


def workflow_filters(*, owner_id: str | None, status: WorkflowStatus | str | None) -> dict[str, Any]:
    return _given(owner_id=owner_id, status=None if status is None else WorkflowStatus(status).value)


def execution_filters(
    *, workflow_id: str | None, status: ExecutionStatus | str | None, owner_id: str | None
) -> dict[str, Any]:
    return _given(
        workflow_id=workflow_id,
        status=None if status is None else ExecutionStatus(status).value,
        owner_id=owner_id,
    )
