"""Mirrors the step runner's result records into the control plane: step executions, logs, live events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orchestrator.domain.records import LogLine, StepExecutionRecord, StepStatus
from orchestrator.ports.store import Store
from orchestrator.services.notifier import ExecutionNotifier

_STATUSES = {
    "running": StepStatus.RUNNING,
    "succeeded": StepStatus.SUCCEEDED,
    "failed": StepStatus.FAILED,
    "skipped": StepStatus.SKIPPED,
    "retrying": StepStatus.RETRYING,
    "cancelled": StepStatus.CANCELLED,
}


def _time(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


class StoreExecutionControl:
    def __init__(self, store: Store) -> None:
        self._store = store

    def execution_status(self, execution_id: str) -> str | None:
        record = self._store.get_execution(execution_id)
        return record.status.value if record is not None else None


class StoreStepObserver:
    def __init__(self, store: Store, notifier: ExecutionNotifier | None = None) -> None:
        self._store = store
        self._notifier = notifier

    def step_recorded(self, execution_id: str, step_key: str, record: dict[str, Any]) -> None:
        status = _STATUSES.get(record.get("status", ""))
        if status is None or step_key.startswith("$"):
            return
        self._store.upsert_step_execution(StepExecutionRecord(
            execution_id=execution_id,
            step_id=step_key,
            status=status,
            attempt=max(1, int(record.get("attempt") or 1)),
            output=record.get("output") if "output_ref" not in record else None,
            output_ref=record.get("output_ref"),
            error=record.get("error"),
            cause=record.get("cause"),
            started_at=_time(record.get("started_at")),
            ended_at=None if status is StepStatus.RUNNING else _time(record.get("finished_at")),
        ))
        lines = [LogLine(step_id=step_key, message=line) for line in record.get("logs") or ()]
        if record.get("error") and status in (StepStatus.FAILED, StepStatus.RETRYING):
            lines.append(LogLine(step_id=step_key, level="ERROR",
                                 message=f"attempt {record.get('attempt')}: {record['error']}: {record.get('cause')}"))
        if lines:
            self._store.append_logs(execution_id, lines)
        if self._notifier is not None:
            self._notifier.notify(execution_id)


def cancel_unfinished_steps(store: Store, execution_id: str) -> None:
    for step in store.list_step_executions(execution_id):
        if step.status in (StepStatus.RUNNING, StepStatus.PENDING, StepStatus.RETRYING):
            store.upsert_step_execution(step.model_copy(update={"status": StepStatus.CANCELLED,
                                                                "ended_at": datetime.now(UTC)}))

