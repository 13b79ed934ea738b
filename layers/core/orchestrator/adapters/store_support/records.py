"""Records that both stores build the same way around what they read and write."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from orchestrator.adapters.store_support.codec import Layout, encode_record
from orchestrator.adapters.store_support.summaries import DERIVED_WORKFLOW_FIELDS
from orchestrator.domain.records import (
    LogEntry,
    LogLine,
    StepExecutionRecord,
    WorkflowRecord,
    WorkflowVersion,
)
from orchestrator.ports.store import RecordNotFound

T = TypeVar("T")

#: what a step upsert never changes: the identity of the record
STEP_IDENTITY = frozenset({"id", "execution_id", "step_id"})
#: derived on read from the log entries, never stored with the step
STEP_DERIVED_FIELDS = frozenset({"log_count"})


def require_found(record: T | None, kind: str, key: str) -> T:
    if record is None:
        raise RecordNotFound(kind, key)
    return record


def new_workflow(
    workflow: WorkflowRecord, definition: dict[str, Any], layout: Layout
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The encoded workflow at version 1 (without the fields derived on read) and its first version."""
    first_version = WorkflowVersion(
        workflow_id=workflow.id, version=1, definition=definition, created_at=workflow.created_at
    )
    stored = encode_record(
        workflow.model_copy(update={"current_version": 1}), layout, exclude=DERIVED_WORKFLOW_FIELDS
    )
    return stored, encode_record(first_version, layout)


def next_workflow_version(
    workflow_id: str, current_version: int, definition: dict[str, Any], created_at: datetime
) -> WorkflowVersion:
    return WorkflowVersion(
        workflow_id=workflow_id, version=current_version + 1, definition=definition, created_at=created_at
    )


def numbered_log_entries(execution_id: str, lines: Sequence[LogLine], last_seq: int) -> list[LogEntry]:
    """The entries of ``lines`` once the store has reserved their numbers up to ``last_seq``."""
    first_seq = last_seq - len(lines) + 1
    return [
        LogEntry(execution_id=execution_id, seq=first_seq + offset, **line.model_dump())
        for offset, line in enumerate(lines)
    ]


def with_log_counts(
    steps: Iterable[StepExecutionRecord], counts: Mapping[tuple[str, str], int]
) -> list[StepExecutionRecord]:
    """``counts``: log lines per ``(execution_id, step_id)``; a step without lines has none."""
    return [
        step.model_copy(update={"log_count": counts.get((step.execution_id, step.step_id), 0)})
        for step in steps
    ]
