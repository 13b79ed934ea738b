"""Mirrors the step runner's result records into the control plane: step executions, logs, live events.

A terminal execution leaves no step open: ``close_unfinished_steps`` closes them when it ends, and the
observer closes again a step whose ``running`` or ``retrying`` report lands after the end (see
``services/step_closing.py`` for the rule and why reports come late).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orchestrator.domain.lifecycle import is_terminal
from orchestrator.domain.records import ExecutionRecord, LogLine, StepExecutionRecord, StepStatus
from orchestrator.ports.store import Store
from orchestrator.services.cancellation import CANCELLED_ERROR
from orchestrator.services.notifier import ExecutionNotifier
from orchestrator.services.step_closing import (
    FINAL_RESULT_STATUSES,
    closing_cause,
    failed_steps_of,
)

_STATUSES = {
    "running": StepStatus.RUNNING,
    "succeeded": StepStatus.SUCCEEDED,
    "failed": StepStatus.FAILED,
    "skipped": StepStatus.SKIPPED,
    "retrying": StepStatus.RETRYING,
    "cancelled": StepStatus.CANCELLED,
}
#: a step in one of these has ended; any other status is closed when its execution ends
FINAL_STEP_STATUSES = frozenset(StepStatus(status) for status in FINAL_RESULT_STATUSES)
#: pending, running, retrying: what an ended execution must not leave behind
OPEN_STEP_STATUSES = frozenset(StepStatus) - FINAL_STEP_STATUSES


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
        step = _step_execution(execution_id, step_key, record)
        if step is None:
            return
        self._store.upsert_step_execution(step)
        status = step.status
        lines = [LogLine(step_id=step_key, message=line) for line in record.get("logs") or ()]
        if record.get("error") and status in (StepStatus.FAILED, StepStatus.RETRYING):
            lines.append(LogLine(step_id=step_key, level="ERROR",
                                 message=f"attempt {record.get('attempt')}: {record['error']}: {record.get('cause')}"))
        if lines:
            self._store.append_logs(execution_id, lines)
        if status not in FINAL_STEP_STATUSES:
            # an attempt that outlived its execution (read after the write: if the end's closing read the
            # steps before this write landed, this read sees the end, so the step is closed either way)
            execution = self._store.get_execution(execution_id)
            if execution is not None and is_terminal(execution.status):
                close_unfinished_steps(self._store, execution_id, execution)
        if self._notifier is not None:
            self._notifier.notify(execution_id)


def _step_execution(execution_id: str, step_key: str, record: dict[str, Any]) -> StepExecutionRecord | None:
    """The control plane's record of a step result record; None for internal keys and unknown statuses."""
    status = _STATUSES.get(record.get("status", ""))
    if status is None or step_key.startswith("$"):
        return None
    return StepExecutionRecord(
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
    )


def close_unfinished_steps(store: Store, execution_id: str,
                           execution: ExecutionRecord | None = None) -> list[StepExecutionRecord]:
    """Closes every step execution of an ended execution that is not final (pending, running, retrying).

    A step whose result the step result store holds as final takes that result (its report was lost);
    any other becomes ``cancelled`` with error ``Orchestrator.Cancelled`` and a cause saying why, also
    written to its logs. Does nothing while the execution has not ended; closing twice changes nothing.
    Returns the records it wrote.
    """
    execution = execution or store.get_execution(execution_id)
    if execution is None or not is_terminal(execution.status):
        return []
    unfinished = store.list_step_executions(execution_id, statuses=OPEN_STEP_STATUSES)
    if not unfinished:
        return []
    steps = store.list_step_executions(execution_id)
    failed = failed_steps_of({step.step_id: step.error for step in steps if step.status is StepStatus.FAILED},
                             execution.error)
    closed: list[StepExecutionRecord] = []
    lines: list[LogLine] = []
    for step in unfinished:
        result = store.step_results.get(execution_id, step.step_id) or {}
        reported = _step_execution(execution_id, step.step_id, result) \
            if result.get("status") in FINAL_RESULT_STATUSES else None
        if reported is None:
            cause = closing_cause(execution.status.value, step_status=step.status.value, attempt=step.attempt,
                                  failed_steps=failed, error=execution.error)
            reported = step.model_copy(update={"status": StepStatus.CANCELLED, "error": CANCELLED_ERROR,
                                               "cause": cause, "ended_at": datetime.now(UTC)})
            lines.append(LogLine(step_id=step.step_id, level="WARNING", message=f"closed: {cause}"))
        closed.append(store.upsert_step_execution(reported))
    if lines:
        store.append_logs(execution_id, lines)
    return closed

