"""Executions through the local engine's control plane: queue, dispatch, state machine, lifecycle."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_support import create_workflow, wait_for

from orchestrator.domain.lifecycle import InvalidTransition, is_terminal
from orchestrator.domain.records import ExecutionStatus, StepStatus


def _script(step_id: str, code: str, **extra: object) -> dict:
    return {"id": step_id, "type": "script", "config": {"runtime": "python", "code": code}, **extra}


ECHO = "import json,sys; print(json.dumps({'got': json.load(sys.stdin)}))"


def test_a_submitted_execution_runs_to_completion_with_step_records(runtime) -> None:
    # Given an active workflow of two dependent steps
    workflow = create_workflow(runtime, {"name": "two", "steps": [
        _script("first", ECHO, input_mapping={"n": "{{input.n}}"}),
        _script("second", ECHO, depends_on=["first"], input_mapping={"prev": "{{steps.first.output.got.n}}"}),
    ]})
    # When it is submitted
    execution = runtime.executions.submit(workflow.id, input={"n": 7})
    assert execution.status is ExecutionStatus.QUEUED
    # Then it completes, its output holds each step's output, and each step has a record
    done = wait_for(runtime, execution.id, lambda r: is_terminal(r.status))
    assert done.status is ExecutionStatus.COMPLETED, (done.error, done.cause)
    assert done.output == {"first": {"got": {"n": 7}}, "second": {"got": {"prev": 7}}}
    steps = {step.step_id: step for step in runtime.store.list_step_executions(execution.id)}
    assert {key: step.status for key, step in steps.items()} == {"first": StepStatus.SUCCEEDED, "second": StepStatus.SUCCEEDED}
    assert done.duration is not None and done.started_at is not None


def test_a_duplicate_dispatch_never_starts_a_second_run(runtime) -> None:
    workflow = create_workflow(runtime, {"name": "once", "steps": [_script("only", ECHO)]})
    execution = runtime.executions.submit(workflow.id, input={})
    wait_for(runtime, execution.id, lambda r: is_terminal(r.status))
    # When the same message is delivered again
    assert runtime.executions.dispatch(execution.id) is False
    # Then nothing ran twice
    assert runtime.store.get_execution(execution.id).status is ExecutionStatus.COMPLETED


def test_a_failed_step_fails_the_execution_with_its_error(runtime) -> None:
    workflow = create_workflow(runtime, {"name": "fails", "steps": [_script("boom", "import sys; sys.exit(3)")]})
    execution = runtime.executions.submit(workflow.id)
    done = wait_for(runtime, execution.id, lambda r: is_terminal(r.status))
    assert done.status is ExecutionStatus.FAILED
    assert done.error == "Script.ExitCode"


def test_pause_holds_new_steps_and_resume_continues(runtime, tmp_path: Path) -> None:
    # Given a workflow whose first step waits for a file, and a second step after it
    gate = tmp_path / "go"
    wait_code = f"import os,time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)\nprint('{{}}')"
    workflow = create_workflow(runtime, {"name": "pausable", "steps": [
        _script("slow", wait_code), _script("after", ECHO, depends_on=["slow"])]})
    execution = runtime.executions.submit(workflow.id)
    wait_for(runtime, execution.id, lambda r: [s.status for s in runtime.store.list_step_executions(r.id)]
             == [StepStatus.RUNNING])
    # When it is paused while the first step runs, and that step then finishes
    runtime.executions.pause(execution.id)
    gate.write_text("go")
    wait_for(runtime, execution.id, lambda r: runtime.store.step_results.get(r.id, "$pause/after") is not None)
    # Then the next step has not started
    steps = {s.step_id: s.status for s in runtime.store.list_step_executions(execution.id)}
    assert steps == {"slow": StepStatus.SUCCEEDED}
    assert runtime.store.get_execution(execution.id).status is ExecutionStatus.PAUSED
    # And pausing again is an invalid transition naming the current state
    with pytest.raises(InvalidTransition) as refused:
        runtime.executions.pause(execution.id)
    assert refused.value.current is ExecutionStatus.PAUSED
    # When resumed, it runs to completion
    runtime.executions.resume(execution.id)
    done = wait_for(runtime, execution.id, lambda r: is_terminal(r.status))
    assert done.status is ExecutionStatus.COMPLETED, (done.error, done.cause)


def test_cancel_stops_the_run_and_marks_running_steps_cancelled(runtime, tmp_path: Path) -> None:
    workflow = create_workflow(runtime, {"name": "cancellable", "steps": [
        _script("forever", "import time; time.sleep(30)"), _script("never", ECHO, depends_on=["forever"])]})
    execution = runtime.executions.submit(workflow.id)
    wait_for(runtime, execution.id, lambda r: any(s.step_id == "forever" for s in runtime.store.list_step_executions(r.id)))
    runtime.executions.cancel(execution.id)
    done = runtime.store.get_execution(execution.id)
    assert done.status is ExecutionStatus.CANCELLED
    steps = {s.step_id: s.status for s in runtime.store.list_step_executions(execution.id)}
    assert steps == {"forever": StepStatus.CANCELLED}
    with pytest.raises(InvalidTransition):
        runtime.executions.resume(execution.id)


def test_retry_reruns_only_the_failed_steps(runtime, tmp_path: Path) -> None:
    # Given a run whose second step failed because a file was missing
    flag = tmp_path / "fixed"
    counter = tmp_path / "first-runs"
    first = f"open({str(counter)!r}, 'a').write('x'); print('{{\"ok\": 1}}')"
    second = f"import os,sys\nif not os.path.exists({str(flag)!r}): sys.exit(9)\nprint('{{\"ok\": 2}}')"
    workflow = create_workflow(runtime, {"name": "retryable", "steps": [
        _script("first", first), _script("second", second, depends_on=["first"])]})
    failed = wait_for(runtime, runtime.executions.submit(workflow.id).id, lambda r: is_terminal(r.status))
    assert failed.status is ExecutionStatus.FAILED
    # When the cause is fixed and the execution retried
    flag.write_text("yes")
    retried = runtime.executions.retry(failed.id)
    done = wait_for(runtime, retried.id, lambda r: is_terminal(r.status))
    # Then the new execution completes, reusing the first step's output without running it again
    assert done.status is ExecutionStatus.COMPLETED, (done.error, done.cause)
    assert done.retry_of == failed.id
    assert done.output == {"first": {"ok": 1}, "second": {"ok": 2}}
    assert counter.read_text() == "x"
