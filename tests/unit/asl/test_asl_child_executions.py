"""startExecution[.sync|.sync:2] on the local interpreter, and Step Functions' history quota."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from orchestrator.asl import Interpreter, load_state_machine
from orchestrator.asl.checkpoints import MemoryCheckpointStore
from orchestrator.asl.interpreter import ExecutionAbandoned

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def recursive_machine(resource: str = "arn:aws:states:::states:startExecution.sync:2") -> Any:
    """A parent with `children` starts each as a child of the same machine; a child calls `work`."""
    return load_state_machine({
        "StartAt": "Role",
        "States": {
            "Role": {"Type": "Choice", "Choices": [{"Variable": "$.children", "IsPresent": True, "Next": "Spawn"}],
                     "Default": "Work"},
            "Work": {"Type": "Task", "Resource": FUNCTION_ARN.format("work"), "End": True},
            "Spawn": {
                "Type": "Map", "ItemsPath": "$.children", "MaxConcurrency": 1,
                "ItemSelector": {"value.$": "$$.Map.Item.Value", "parent.$": "$$.Execution.Name"},
                "ItemProcessor": {"StartAt": "Child", "States": {"Child": {
                    "Type": "Task", "Resource": resource,
                    "Parameters": {
                        "StateMachineArn.$": "$$.StateMachine.Id",
                        "Name.$": "States.Format('{}-part-{}', $.parent, $.value)",
                        "Input": {"value.$": "$.value"},
                    },
                    "End": True,
                }}},
                "End": True,
            },
        },
    })


def test_sync2_runs_each_child_to_its_end_and_returns_its_description(interpreter, functions):
    # Given a child that doubles its value
    functions.add("work", lambda event: {"doubled": event["value"] * 2})

    # When the parent starts two children of its own machine, one after the other
    result = interpreter.run(recursive_machine(), {"children": [1, 2]}, name="parent")

    # Then each child's DescribeExecution is the Map's item, Input and Output as JSON values
    assert result.status == "SUCCEEDED", result.cause
    first, second = result.output
    assert first["Status"] == "SUCCEEDED" and first["Name"] == "parent-part-1"
    assert first["Input"] == {"value": 1} and first["Output"] == {"doubled": 2}
    assert second["Output"] == {"doubled": 4}
    assert first["ExecutionArn"].endswith(":execution:" + first["StateMachineArn"].split(":")[-1] + ":parent-part-1")
    assert isinstance(first["StartDate"], int) and first["StopDate"] >= first["StartDate"]
    # and the parent's history shows the .sync pattern
    types = [event["type"] for event in result.history]
    assert types.count("TaskSubmitted") == 2 and types.count("TaskSucceeded") == 2


def test_sync_gives_input_and_output_as_json_text(interpreter, functions):
    functions.add("work", lambda event: {"doubled": event["value"] * 2})

    result = interpreter.run(recursive_machine("arn:aws:states:::states:startExecution.sync"), {"children": [3]})

    assert result.status == "SUCCEEDED", result.cause
    assert json.loads(result.output[0]["Output"]) == {"doubled": 6}
    assert json.loads(result.output[0]["Input"]) == {"value": 3}


def test_request_response_answers_at_once_with_the_child_arn(interpreter, functions):
    release = threading.Event()
    functions.add("work", lambda event: release.wait(5) and {"ok": True})

    result = interpreter.run(recursive_machine("arn:aws:states:::states:startExecution"), {"children": [5]}, name="p")
    release.set()

    assert result.status == "SUCCEEDED", result.cause
    assert set(result.output[0]) == {"ExecutionArn", "StartDate"}
    assert result.output[0]["ExecutionArn"].endswith(":p-part-5")


def test_a_failed_child_fails_the_task_with_its_description_as_the_cause(interpreter, functions):
    # Given a child whose work fails with its own error
    def work(event: Any) -> Any:
        raise ValueError("bad value")

    functions.add("work", work)

    # When the parent waits for it
    result = interpreter.run(recursive_machine(), {"children": [7]})

    # Then the parent fails with States.TaskFailed, and the cause carries the child's error and cause
    assert result.status == "FAILED"
    assert result.error == "States.TaskFailed"
    described = json.loads(result.cause)
    assert described["Status"] == "FAILED" and described["Error"] == "ValueError"
    assert "bad value" in described["Cause"]


def test_a_child_of_an_unknown_machine_fails_the_task(interpreter, functions):
    machine = load_state_machine({"StartAt": "C", "States": {"C": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:nope"}, "End": True}}})

    result = interpreter.run(machine, {})

    assert result.status == "FAILED"
    assert result.error == "StepFunctions.StateMachineDoesNotExistException"


def test_aborting_the_parent_aborts_the_child_it_waits_for(interpreter, functions):
    # Given a child whose work blocks
    started = threading.Event()
    release = threading.Event()

    def work(event: Any) -> Any:
        started.set()
        release.wait(10)
        return {}

    functions.add("work", work)
    handle = interpreter.start(recursive_machine(), {"children": [1]}, name="boss")
    assert started.wait(5)

    # When the parent is aborted
    interpreter.stop(handle.execution_arn)
    parent = handle.wait(5)
    release.set()

    # Then the child ends aborted too
    assert parent.status == "ABORTED"
    child_arn = handle.execution_arn.replace(":boss", ":boss-part-1")
    child = interpreter.ended(child_arn) or _wait_ended(interpreter, child_arn)
    assert child.status == "ABORTED"


def _wait_ended(interpreter: Interpreter, arn: str) -> Any:
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        ended = interpreter.ended(arn)
        if ended is not None:
            return ended
        time.sleep(0.01)
    raise AssertionError(f"{arn} did not end")


class ProcessCrash(BaseException):
    """The process dying: nothing in the interpreter handles it."""


def test_a_resumed_parent_attaches_to_its_child_instead_of_starting_it_again(functions):
    # Given a parent that crashed while its child was working
    store = MemoryCheckpointStore()
    calls: list[int] = []
    crash = {"armed": True}

    def work(event: Any) -> Any:
        calls.append(event["value"])
        if crash["armed"]:
            crash["armed"] = False
            raise ProcessCrash("gone")
        return {"done": event["value"]}

    functions.add("work", work)
    machine = recursive_machine()
    with Interpreter(invoke=functions, checkpoints=store) as first:
        handle = first.start(machine, {"children": [9]}, name="crashy")
        with pytest.raises((ProcessCrash, ExecutionAbandoned)):  # the parent goes down with its child
            handle.wait(5)

    # When a fresh interpreter resumes every unfinished execution
    with Interpreter(invoke=functions, checkpoints=store) as second:
        handles = second.resume_unfinished({machine.arn: machine})
        results = {h.name: h.wait(10) for h in handles}

    # Then the child ran to its end once more (its work had not finished) and the parent got its output
    assert results["crashy"].status == "SUCCEEDED", results["crashy"].cause
    assert results["crashy"].output[0]["Output"] == {"done": 9}
    assert calls == [9, 9]


def test_an_execution_fails_when_its_history_reaches_25000_events(interpreter, functions):
    # Given a loop of Pass states that never ends by itself (2 events per state)
    machine = load_state_machine({
        "StartAt": "Count",
        "States": {
            "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Again"},
            "Again": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 1000000, "Next": "Count"}],
                      "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
    })

    # When it runs (a Catch could not save it either: States.Runtime ends the execution)
    result = interpreter.run(machine, {"n": 0})

    # Then it fails as Step Functions fails it, with exactly 25,000 events before the end event
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert "maximum number of history events (25000)" in result.cause
    assert len(result.history) == 25001 and result.history[-1]["type"] == "ExecutionFailed"
