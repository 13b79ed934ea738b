"""The execution summary shown on each workflow record, derived from executions whenever it is read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from orchestrator.domain.records import WorkflowRecord, as_timestamp
from orchestrator.domain.stats import success_rate

#: fields of WorkflowRecord that no write sets: the store derives them on read
DERIVED_WORKFLOW_FIELDS: frozenset[str] = frozenset({"execution_count", "last_executed", "success_rate"})


def with_execution_summaries(
    workflows: Iterable[WorkflowRecord],
    status_counts: Iterable[tuple[str, str, int, datetime | str | None]],
) -> list[WorkflowRecord]:
    """``status_counts``: (workflow_id, status, count, latest created_at) per workflow and status."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    latest: dict[str, datetime] = {}
    for workflow_id, status, count, last_created in status_counts:
        counts[workflow_id][status] = count
        if last_created is not None:
            created = as_timestamp(
                datetime.fromisoformat(last_created) if isinstance(last_created, str) else last_created
            )
            latest[workflow_id] = max(created, latest.get(workflow_id, created))
    summarised: list[WorkflowRecord] = []
    for workflow in workflows:
        by_status = counts.get(workflow.id, {})
        summary: dict[str, Any] = {
            "execution_count": sum(by_status.values()),
            "last_executed": latest.get(workflow.id),
            "success_rate": success_rate(by_status),
        }
        summarised.append(workflow.model_copy(update=summary))
    return summarised
