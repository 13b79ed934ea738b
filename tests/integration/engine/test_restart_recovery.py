"""The control plane finds the local interpreter's executions by name: what restart recovery relies on.

After a kill, the reconciler asks the state machines about every execution the store says is running
(``describe_execution(executions.execution_arn(id))``), and cancel stops a running machine by that same
name. Both only work if ``ExecutionService.execution_arn`` names an execution the way the interpreter
does (tests/e2e/test_kill_restart.py is the end-to-end version of the first test).
"""

from __future__ import annotations

import time
from pathlib import Path

from engine_support import create_workflow, wait_for

from orchestrator.asl.checkpoints import END
from orchestrator.composition.runtime import WORKFLOW_STATE_MACHINE, LocalRuntime
from orchestrator.domain.lifecycle import is_terminal
from orchestrator.domain.records import ExecutionStatus
from orchestrator.services.reconciler import reconcile

ECHO = "import json,sys; print(json.dumps({'got': json.load(sys.stdin)}))"


def _interpreter_arn(runtime: LocalRuntime, execution_id: str) -> str:
    machine = runtime.machines.machine(WORKFLOW_STATE_MACHINE)
    return f"arn:aws:states:{machine.region}:{machine.account}:execution:{machine.name}:{execution_id}"


def _wait_for_machine_end(runtime: LocalRuntime, execution_id: str, timeout: float = 10) -> dict:
    arn = _interpreter_arn(runtime, execution_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = runtime.interpreter.checkpoints.load(arn)
        if records and records[-1].get("kind") == END:
            return records[-1]
        time.sleep(0.02)
    raise AssertionError(f"the state machine of {execution_id} did not end")


def test_the_service_names_executions_as_the_interpreter_does(runtime: LocalRuntime) -> None:
    assert runtime.executions.execution_arn("abc") == _interpreter_arn(runtime, "abc")


def test_the_reconciler_records_a_machine_that_ended_while_the_store_did_not_learn_it(runtime: LocalRuntime) -> None:
    # Given an execution whose state machine ends without the store being told (the process was killed
    # between the interpreter's end checkpoint and ExecutionService.finish)
    runtime.machines.on_finished = None
    workflow = create_workflow(runtime, {"name": "ends-unrecorded", "steps": [
        {"id": "only", "type": "script", "config": {"runtime": "python", "code": ECHO}}]})
    execution = runtime.executions.submit(workflow.id, input={"n": 1})
    assert _wait_for_machine_end(runtime, execution.id)["status"] == "SUCCEEDED"
    assert runtime.store.get_execution(execution.id).status is ExecutionStatus.RUNNING
    # When the reconciler looks (as it does at once on start-up)
    report = reconcile(runtime.store, runtime.executions, runtime.machines, queued_timeout_seconds=60)
    # Then it records the end the state machine reached, with the step outputs
    assert (report.finished, report.restarted) == (1, 0)
    done = runtime.store.get_execution(execution.id)
    assert done.status is ExecutionStatus.COMPLETED
    assert done.output == {"only": {"got": {"n": 1}}}


def test_cancel_stops_the_running_state_machine(runtime: LocalRuntime, tmp_path: Path) -> None:
    # Given an execution whose first step waits for a file, and a second step after it
    gate = tmp_path / "go"
    wait_code = f"import os,time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)\nprint('{{}}')"
    workflow = create_workflow(runtime, {"name": "cancel-me", "steps": [
        {"id": "first", "type": "script", "config": {"runtime": "python", "code": wait_code}},
        {"id": "second", "type": "script", "config": {"runtime": "python", "code": ECHO}, "depends_on": ["first"]},
    ]})
    execution = runtime.executions.submit(workflow.id)
    wait_for(runtime, execution.id, lambda r: r.status is ExecutionStatus.RUNNING)
    _wait_for_step_status(runtime, execution.id, "first", "running")
    try:
        # When it is cancelled while its first step runs
        cancelled = runtime.executions.cancel(execution.id)
        assert cancelled.status is ExecutionStatus.CANCELLED
        # Then its state machine is aborted, without waiting for the running step to end
        end = _wait_for_machine_end(runtime, execution.id)
        assert (end["status"], end.get("error")) == ("ABORTED", "Orchestrator.Cancelled")
    finally:
        gate.touch()
        _wait_for_step_runner_to_finish(runtime, execution.id, "first")
    assert is_terminal(runtime.store.get_execution(execution.id).status)
    assert "second" not in {step.step_id for step in runtime.store.list_step_executions(execution.id)}


def _wait_for_step_status(runtime: LocalRuntime, execution_id: str, step_id: str, status: str,
                          timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(step.step_id == step_id and step.status == status
               for step in runtime.store.list_step_executions(execution_id)):
            return
        time.sleep(0.02)
    raise AssertionError(f"step {step_id} of {execution_id} never became {status}")


def _wait_for_step_runner_to_finish(runtime: LocalRuntime, execution_id: str, step_id: str,
                                    timeout: float = 10) -> None:
    """Its last write is the step's log lines: after them the test's store can be closed with nothing of
    this execution still writing to it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any("exited 0" in line.message for line in runtime.store.list_logs(execution_id, step_id=step_id)):
            return
        if any(step.step_id == step_id and step.error == "Orchestrator.Cancelled"  # the cancel killed its script
               for step in runtime.store.list_step_executions(execution_id)):
            return
        time.sleep(0.02)
    raise AssertionError(f"step {step_id} of {execution_id} never finished: "
                         f"{[line.message for line in runtime.store.list_logs(execution_id)]} "
                         f"{[(s.step_id, s.status, s.error) for s in runtime.store.list_step_executions(execution_id)]}")
