"""Issue 7 on the cloud path: the EventsFunction records the end of an execution from Step Functions'
"Execution Status Change" event, and the end closes every step that is still open; a StepRunner Lambda
that reports afterwards cannot reopen one. On the in-memory SQLite store, with recording fakes of SQS and
Step Functions."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from orchestrator.adapters.local.lambdas import LocalLambdaContext
from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.records import (
    ExecutionRecord,
    ExecutionStatus,
    StepStatus,
    WorkflowRecord,
    WorkflowStatus,
)
from orchestrator.services.executions import ExecutionService
from orchestrator.services.step_closing import close_unfinished_results
from orchestrator.services.step_sync import StoreStepObserver, close_unfinished_steps
from support.recording_ports import RecordingMachines, RecordingQueue

PROJECT = Path(__file__).resolve().parents[3]
MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:orchestrator-workflow-dev"
EXECUTION_ID = "0f6c2a1e6a4e4c619d1e3a1f6f0b2c11"  # the name in events/execution_status_change_event.json


def _events_function() -> ModuleType:
    path = PROJECT / "functions" / "execution_events" / "app.py"
    spec = importlib.util.spec_from_file_location("test_terminal_closes_steps_events_function", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _status_change(status: str, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(json.loads((PROJECT / "events" / "execution_status_change_event.json").read_text()))
    event["detail"].update(status=status, error=error, cause=cause)
    return event


def _context() -> LocalLambdaContext:
    return LocalLambdaContext(function_name="ExecutionEventsFunction",
                              invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:ExecutionEventsFunction")


@pytest.fixture
def store() -> SqliteStore:
    return SqliteStore.in_memory()


@pytest.fixture
def service(store: SqliteStore) -> ExecutionService:
    return ExecutionService(store, RecordingQueue(), RecordingMachines(), MACHINE)


def _running_execution(store: SqliteStore, service: ExecutionService) -> ExecutionRecord:
    store.create_workflow(WorkflowRecord(id="wf-1", name="wf", owner_id="o", status=WorkflowStatus.ACTIVE), {
        "name": "wf", "steps": [{"id": step, "type": "condition", "config": {"expression": "true"}} for step in "abc"]})
    execution = store.create_execution(ExecutionRecord(id=EXECUTION_ID, workflow_id="wf-1", workflow_version=1, owner_id="o"))
    assert service.dispatch(execution.id)
    return execution


def _report(store: SqliteStore, step_id: str, record: dict[str, Any]) -> None:
    """What the StepRunner Lambda does: its result record, then the observer's copy in the control plane."""
    store.step_results.put(EXECUTION_ID, step_id, record)
    StoreStepObserver(store).step_recorded(EXECUTION_ID, step_id, record)


def _statuses(store: SqliteStore) -> dict[str, StepStatus]:
    return {step.step_id: step.status for step in store.list_step_executions(EXECUTION_ID)}


def _a_failed_b_retrying_c_running(store: SqliteStore) -> None:
    now = time.time()
    _report(store, "a", {"status": "failed", "attempt": 1, "error": "Http.503", "cause": "answered 503",
                         "started_at": now, "finished_at": now})
    _report(store, "b", {"status": "retrying", "attempt": 1, "error": "Http.502", "cause": "answered 502",
                         "started_at": now, "finished_at": now})
    _report(store, "c", {"status": "running", "attempt": 2, "started_at": now})


def test_the_events_function_closes_the_open_steps_of_a_failed_execution(store, service) -> None:
    # Given a running execution: a failed, b waits for its retry, c runs its second attempt
    _running_execution(store, service)
    _a_failed_b_retrying_c_running(store)
    # When Step Functions reports that the execution failed with a's error
    answer = _events_function().lambda_handler(_status_change("FAILED", "Http.503", "answered 503"), _context(),
                                               executions=service)
    # Then the execution is failed and no step is left open: b and c are cancelled, a stays failed
    assert answer["recorded"] is True
    assert store.get_execution(EXECUTION_ID).status is ExecutionStatus.FAILED
    assert _statuses(store) == {"a": StepStatus.FAILED, "b": StepStatus.CANCELLED, "c": StepStatus.CANCELLED}
    steps = {step.step_id: step for step in store.list_step_executions(EXECUTION_ID)}
    # And each closed step says why, keeps its attempt, and has an end
    assert steps["b"].error == steps["c"].error == "Orchestrator.Cancelled"
    assert steps["b"].cause == "the execution failed before attempt 2 of this step could run: step 'a' failed (Http.503)"
    assert steps["c"].cause == "the execution failed before this step finished: step 'a' failed (Http.503)"
    assert (steps["b"].attempt, steps["c"].attempt) == (1, 2)
    assert steps["b"].ended_at is not None and steps["c"].ended_at is not None
    # And the logs keep b's failed attempt and tell of the closing
    messages = [line.message for line in store.list_logs(EXECUTION_ID, step_id="b")]
    assert messages[0].startswith("attempt 1: Http.502") and messages[-1].startswith("closed: the execution failed")


def test_a_step_reported_retrying_after_the_end_is_closed_again(store, service) -> None:
    # Given a failed execution whose steps were closed
    _running_execution(store, service)
    _a_failed_b_retrying_c_running(store)
    service.finish(EXECUTION_ID, "FAILED", error="Http.503", cause="answered 503")
    # When c's Lambda, still running at the end, reports a retry afterwards
    now = time.time()
    _report(store, "c", {"status": "retrying", "attempt": 2, "error": "Http.504", "started_at": now, "finished_at": now})
    # Then c is closed again at once
    closed = {step.step_id: step for step in store.list_step_executions(EXECUTION_ID)}["c"]
    assert closed.status is StepStatus.CANCELLED
    assert closed.cause == "the execution failed before attempt 3 of this step could run: step 'a' failed (Http.503)"


def test_a_final_report_after_the_end_is_kept(store, service) -> None:
    # Given a cancelled execution whose running step c was cancelled
    _running_execution(store, service)
    _a_failed_b_retrying_c_running(store)
    service.cancel(EXECUTION_ID)
    assert _statuses(store)["c"] is StepStatus.CANCELLED
    # When c's attempt, which was not killed, reports that it succeeded
    now = time.time()
    _report(store, "c", {"status": "succeeded", "attempt": 2, "output": {"n": 1}, "started_at": now, "finished_at": now})
    # Then that is what c's record says (it is what happened; a retry of the execution reuses it too)
    assert _statuses(store) == {"a": StepStatus.FAILED, "b": StepStatus.CANCELLED, "c": StepStatus.SUCCEEDED}


@pytest.mark.parametrize(("machine_status", "execution_status", "ended"), [
    ("TIMED_OUT", ExecutionStatus.TIMED_OUT, "timed out"),
    ("ABORTED", ExecutionStatus.CANCELLED, "was cancelled"),
])
def test_timed_out_and_aborted_executions_close_their_steps(store, service, machine_status, execution_status,
                                                            ended) -> None:
    # Given a running execution with a step waiting for its retry and one running
    _running_execution(store, service)
    _a_failed_b_retrying_c_running(store)
    # When Step Functions reports its end
    _events_function().lambda_handler(_status_change(machine_status), _context(), executions=service)
    # Then b and c are cancelled, with the reason
    assert store.get_execution(EXECUTION_ID).status is execution_status
    steps = {step.step_id: step for step in store.list_step_executions(EXECUTION_ID)}
    assert {key: step.status for key, step in steps.items()} == {
        "a": StepStatus.FAILED, "b": StepStatus.CANCELLED, "c": StepStatus.CANCELLED}
    assert steps["c"].cause == f"the execution {ended} before this step finished"


def test_a_completed_execution_takes_a_lost_report_from_the_step_results(store, service) -> None:
    # Given a running execution whose step a finished, but whose report to the control plane was lost
    _running_execution(store, service)
    now = time.time()
    _report(store, "a", {"status": "running", "attempt": 1, "started_at": now})
    store.step_results.put(EXECUTION_ID, "a", {"status": "succeeded", "attempt": 1, "output": {"ok": True},
                                               "started_at": now, "finished_at": now})
    # When the execution completes
    service.finish(EXECUTION_ID, "SUCCEEDED")
    # Then a's record is its result, not cancelled
    a = store.list_step_executions(EXECUTION_ID)[0]
    assert (a.status, a.output, a.error) == (StepStatus.SUCCEEDED, {"ok": True}, None)


def test_closing_waits_for_the_end_and_is_idempotent(store, service) -> None:
    # Given a running execution with a running step
    _running_execution(store, service)
    _report(store, "c", {"status": "running", "attempt": 1, "started_at": time.time()})
    # When closing is asked before the end, Then nothing changes
    assert close_unfinished_steps(store, EXECUTION_ID) == []
    assert _statuses(store) == {"c": StepStatus.RUNNING}
    # When the execution ends, Then the step is closed once; closing again writes nothing
    service.finish(EXECUTION_ID, "FAILED", error="X", cause="y")
    assert _statuses(store) == {"c": StepStatus.CANCELLED}
    assert close_unfinished_steps(store, EXECUTION_ID) == []


def test_the_one_shot_closing_of_step_results() -> None:
    # Given the step results of a run whose step a failed while b waited for its retry (and a nested record ran)
    store = SqliteStore.in_memory()
    results = store.step_results
    results.put("x", "$execution", {"definition": {}})
    results.put("x", "a", {"status": "failed", "attempt": 1, "error": "E"})
    results.put("x", "b", {"status": "retrying", "attempt": 2, "error": "F"})
    results.put("x", "loop[0].c", {"status": "running", "attempt": 1})
    # When the run's end closes them
    closed = close_unfinished_results(results, "x", "FAILED", "E")
    # Then the open ones are cancelled, in the store as well, and a and the context are untouched
    assert set(closed) == {"b", "loop[0].c"}
    assert results.get("x", "b")["status"] == "cancelled"
    assert results.get("x", "b")["cause"] == "the execution failed before attempt 3 of this step could run: step 'a' failed (E)"
    assert results.get("x", "a")["status"] == "failed"


def test_no_reader_sees_the_ended_execution_with_an_open_step(store, service, monkeypatch) -> None:
    # Given a running execution with a step waiting for its retry, and a record of what the store holds
    # right after the execution's status becomes terminal (what a reader of the API could see)
    _running_execution(store, service)
    _a_failed_b_retrying_c_running(store)
    seen: dict[str, StepStatus] = {}
    transition = store.transition

    def observed_transition(*args: Any, **kwargs: Any) -> ExecutionRecord:
        ended = transition(*args, **kwargs)
        seen.update(_statuses(store))
        return ended

    monkeypatch.setattr(store, "transition", observed_transition)
    # When the state machine's end is recorded
    service.finish(EXECUTION_ID, "FAILED", error="Http.503", cause="answered 503")
    # Then the steps were closed before the end became visible
    assert seen == {"a": StepStatus.FAILED, "b": StepStatus.CANCELLED, "c": StepStatus.CANCELLED}
