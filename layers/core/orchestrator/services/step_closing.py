"""Closing the steps of an ended execution: a terminal execution leaves no step pending, running or retrying.

When an execution ends (completed, failed, cancelled or timed out), every step that has not reached a final
status (succeeded, failed, skipped, cancelled) is closed at that moment:

- the step becomes ``cancelled``, with error ``Orchestrator.Cancelled`` and a cause saying why, e.g. for a
  step that was waiting for its retry when a sibling failed the execution: "the execution failed before
  attempt 2 of this step could run: step 'a' failed (Script.ExitCode)". Its attempt number stays, and the
  error of its last attempt stays in its logs;
- unless the step result store already holds a final result for it (the step finished but its report was
  lost): then that result is what the step's record says.

Why steps are left open at all: a failed Map iteration fails the Map (on AWS and on the local interpreter
alike) and the other iterations are stopped, a step waiting for its retry included, so nothing ever reports
their end. And an attempt that was running when the execution ended is not killed (Step Functions stops
waiting for the Lambda; locally the attempt's thread runs on): it reports afterwards. A late report of a
final status is kept (it is what happened). A late report of ``running`` or ``retrying`` is closed again at
once by the step observer (``step_sync.StoreStepObserver``), which reads the execution's status after each
such write: whichever of the two writers comes second, the step ends closed.

The same rule applies on every path: ``ExecutionService.finish`` (the local engine's end callback, the
cloud's EventsFunction on Step Functions' "Execution Status Change", the reconciler) and
``ExecutionService.cancel`` close the control plane's step executions (``step_sync.close_unfinished_steps``);
the one-shot engine of ``orchestrator run`` closes its step results (``close_unfinished_results``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.ports.step_results import StepResultStore
from orchestrator.services.cancellation import CANCELLED_ERROR
from orchestrator.services.step_records import is_top_level

#: step result statuses that are final; any other (running, retrying) is closed when the execution ends
FINAL_RESULT_STATUSES = frozenset({"succeeded", "failed", "skipped", "cancelled"})

#: Step Functions' terminal statuses -> the control plane's execution statuses
_MACHINE_STATUSES = {"SUCCEEDED": "completed", "FAILED": "failed", "ABORTED": "cancelled", "TIMED_OUT": "timed_out"}
_ENDED = {"completed": "completed", "failed": "failed", "cancelled": "was cancelled", "timed_out": "timed out"}


def execution_status_of_machine(machine_status: str) -> str:
    """``FAILED`` -> ``failed``; an execution status passes through."""
    return _MACHINE_STATUSES.get(machine_status, machine_status.lower())


def closing_cause(execution_status: str, *, step_status: str, attempt: int, failed_steps: Iterable[str] = (),
                  error: str | None = None) -> str:
    """Why a step of an ended execution was closed, for its ``cause``."""
    ended = _ENDED.get(execution_status, execution_status)
    if step_status == "retrying":
        cause = f"the execution {ended} before attempt {attempt + 1} of this step could run"
    elif step_status == "pending":
        cause = f"the execution {ended} before this step started"
    else:
        cause = f"the execution {ended} before this step finished"
    if execution_status == "failed":
        culprits = ", ".join(f"'{step}'" for step in failed_steps)
        if culprits:
            cause += f": step {culprits} failed" + (f" ({error})" if error else "")
        elif error:
            cause += f": {error}"
    return cause


def failed_steps_of(records: Mapping[str, str | None], error: str | None) -> list[str]:
    """The top-level steps that failed the execution, from ``{step key: error}`` of the failed steps: those
    whose error is the execution's (a Fail state passes the step's error on), else every failed one."""
    top_level = {key: step_error for key, step_error in records.items() if is_top_level(key)}
    matching = sorted(key for key, step_error in top_level.items() if error and step_error == error)
    return matching or sorted(top_level)


def close_unfinished_results(results: StepResultStore, execution_id: str, machine_status: str,
                             error: str | None = None,
                             records: Mapping[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Closes the open step results of an ended execution (the one-shot engine, which has no control plane).

    ``records`` are the results as read (default: the store's). Returns the closed records by step key;
    they are written back to ``results``.
    """
    current = dict(records) if records is not None else results.all(execution_id)
    status = execution_status_of_machine(machine_status)
    failed = failed_steps_of({key: record.get("error") for key, record in current.items()
                              if not key.startswith("$") and record.get("status") == "failed"
                              and not record.get("continued")}, error)
    closed: dict[str, dict[str, Any]] = {}
    for key, record in current.items():
        if key.startswith("$") or record.get("status") in FINAL_RESULT_STATUSES:
            continue
        attempt = int(record.get("attempt") or 1)
        closed[key] = {
            "status": "cancelled", "attempt": attempt, "error": CANCELLED_ERROR,
            "cause": closing_cause(status, step_status=str(record.get("status")), attempt=attempt,
                                   failed_steps=failed, error=error),
            "started_at": record.get("started_at"), "finished_at": time.time(),
        }
        results.put(execution_id, key, closed[key])
    return closed
