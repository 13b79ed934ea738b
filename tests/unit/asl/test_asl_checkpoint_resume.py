"""Durability: every transition is checkpointed; a fresh interpreter resumes unfinished executions by
replaying them, without invoking again the functions whose outcome is recorded."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from orchestrator.asl import ExecutionDoesNotExist, FakeClock, Interpreter, load_state_machine
from orchestrator.asl.checkpoints import MemoryCheckpointStore

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


class ProcessCrash(BaseException):
    """Stands in for the process dying: not an Exception, so nothing in the interpreter handles it."""


def three_steps() -> Any:
    return load_state_machine(
        {
            "StartAt": "First",
            "States": {
                "First": {"Type": "Task", "Resource": FUNCTION_ARN.format("first"), "ResultPath": "$.first", "Next": "Pause"},
                "Pause": {"Type": "Wait", "Seconds": 60, "Next": "Second"},
                "Second": {"Type": "Task", "Resource": FUNCTION_ARN.format("second"), "ResultPath": "$.second", "Next": "Third"},
                "Third": {"Type": "Task", "Resource": FUNCTION_ARN.format("third"), "ResultPath": "$.third", "End": True},
            },
        }
    )


@pytest.fixture
def store() -> MemoryCheckpointStore:
    return MemoryCheckpointStore()


def crashing_functions(functions: Any, crash_on: str) -> dict[str, bool]:
    armed = {"crash": True}

    def step(name: str):
        def handler(event: Any) -> Any:
            if name == crash_on and armed["crash"]:
                raise ProcessCrash(name)
            return f"{name} done"

        return handler

    for name in ("first", "second", "third"):
        functions.add(name, step(name))
    return armed


def test_a_crashed_execution_resumes_without_invoking_completed_tasks_again(store, functions):
    # Given an execution whose second task kills the process
    armed = crashing_functions(functions, crash_on="second")
    machine = three_steps()
    clock = FakeClock()
    with Interpreter(invoke=functions, clock=clock, checkpoints=store) as first_life, pytest.raises(ProcessCrash):
        first_life.run(machine, {"order": 42}, name="order-42")
    assert functions.names_called() == ["first", "second"]
    assert store.unfinished() == ["arn:aws:states:us-east-1:000000000000:execution:StateMachine:order-42"]

    # When a fresh interpreter on the same store resumes unfinished executions
    armed["crash"] = False
    functions.calls.clear()
    with Interpreter(invoke=functions, clock=clock, checkpoints=store) as second_life:
        handles = second_life.resume_unfinished({machine.arn: machine})
        result = handles[0].wait(5)

    # Then the first task was not invoked again, and the execution finished correctly
    assert functions.names_called() == ["second", "third"]
    assert result.status == "SUCCEEDED"
    assert result.output == {"order": 42, "first": "first done", "second": "second done", "third": "third done"}
    # And the history is one continuous history, without repeated events
    ids = [event["id"] for event in result.history]
    assert ids == list(range(1, len(ids) + 1))
    assert [e["type"] for e in result.history].count("ExecutionStarted") == 1
    assert [e["type"] for e in result.history].count("LambdaFunctionScheduled") == 3
    assert store.unfinished() == []


def test_a_resumed_wait_ends_at_its_recorded_deadline(store, functions):
    # Given an execution that crashed after its 60-second Wait
    armed = crashing_functions(functions, crash_on="second")
    machine = three_steps()
    clock = FakeClock()
    with Interpreter(invoke=functions, clock=clock, checkpoints=store) as first_life, pytest.raises(ProcessCrash):
        first_life.run(machine, {})
    assert clock.sleeps == [60.0]

    # When it is resumed (the clock has already passed the Wait's deadline)
    armed["crash"] = False
    with Interpreter(invoke=functions, clock=clock, checkpoints=store) as second_life:
        second_life.resume_unfinished({machine.arn: machine})[0].wait(5)

    # Then the replayed Wait did not wait again
    assert clock.sleeps == [60.0, 0.0]


def test_a_task_token_survives_a_restart(store, functions):
    # Given a callback task waiting for its token when the process goes away
    tokens: list[str] = []
    functions.add("approve", lambda event: tokens.append(event["token"]) or {"queued": True})
    machine = load_state_machine(
        {
            "StartAt": "Approval",
            "States": {
                "Approval": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "approve", "Payload": {"token.$": "$$.Task.Token"}},
                    "End": True,
                }
            },
        }
    )
    clock = FakeClock()
    first_life = Interpreter(invoke=functions, clock=clock, checkpoints=store)
    first_life.start(machine, {})
    for _ in range(500):
        if any(r.get("type") == "TaskSubmitted" for r in store.load(store.unfinished()[0])):
            break
        time.sleep(0.01)
    first_life.close()  # the process stops: the execution is abandoned mid-wait

    # When a new interpreter resumes it and the approver answers with the token it got before
    second_life = Interpreter(invoke=functions, clock=clock, checkpoints=store)
    handle = second_life.resume_unfinished({machine.arn: machine})[0]
    for _ in range(500):
        try:
            second_life.send_task_success(tokens[0], {"approved": True})
            break
        except LookupError:
            time.sleep(0.01)  # the replay has not reached the waiting task yet
    result = handle.wait(5)
    second_life.close()

    # Then the task completes, and the function was not asked a second time
    assert result.output == {"approved": True}
    assert len(tokens) == 1


def test_completed_map_iterations_are_not_repeated(store, functions):
    # Given a sequential Map whose third item kills the process
    armed = {"crash": True}

    def work(item: int) -> int:
        if item == 3 and armed["crash"]:
            raise ProcessCrash()
        return item * item

    arn = functions.add("square", work)
    machine = load_state_machine(
        {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "MaxConcurrency": 1,
                    "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": arn, "End": True}}},
                    "End": True,
                }
            },
        }
    )
    clock = FakeClock()
    with Interpreter(invoke=functions, clock=clock, checkpoints=store) as first_life, pytest.raises(ProcessCrash):
        first_life.run(machine, [1, 2, 3, 4])

    # When resumed
    armed["crash"] = False
    functions.calls.clear()
    with Interpreter(invoke=functions, clock=clock, checkpoints=store) as second_life:
        result = second_life.resume_unfinished({machine.arn: machine})[0].wait(5)

    # Then only the items without a recorded outcome were processed
    assert [event for _, event in functions.calls] == [3, 4]
    assert result.output == [1, 4, 9, 16]


def test_a_changed_definition_is_not_resumed(store, functions):
    # Given an unfinished execution of a machine whose definition has since changed
    crashing_functions(functions, crash_on="first")
    machine = three_steps()
    with Interpreter(invoke=functions, clock=FakeClock(), checkpoints=store) as first_life, pytest.raises(ProcessCrash):
        first_life.run(machine, {})
    changed = load_state_machine({"StartAt": "Only", "States": {"Only": {"Type": "Succeed"}}})

    # When resuming with the changed machine under the same ARN
    with Interpreter(invoke=functions, clock=FakeClock(), checkpoints=store) as second_life:
        handles = second_life.resume_unfinished({changed.arn: changed})

    # Then nothing is replayed against the wrong definition; the execution stays unfinished
    assert handles == []
    assert len(store.unfinished()) == 1


def test_stop_aborts_a_running_execution(store, types_of):
    # Given an execution waiting for a long time
    machine = load_state_machine({"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    with Interpreter(checkpoints=store) as interpreter:  # the real clock: it really waits
        handle = interpreter.start(machine, {})

        # When it is stopped
        interpreter.stop(handle.execution_id, error="Operator.Cancelled", cause="no longer needed")
        result = handle.wait(5)

    # Then it ends ABORTED with an ExecutionAborted event, and nothing is left to resume
    assert (result.status, result.error, result.cause) == ("ABORTED", "Operator.Cancelled", "no longer needed")
    assert types_of(result.history)[-1] == "ExecutionAborted"
    assert store.unfinished() == []


def test_stop_closes_an_unfinished_execution_that_is_not_running(store, functions):
    # Given an execution abandoned by a crash
    crashing_functions(functions, crash_on="first")
    with Interpreter(invoke=functions, clock=FakeClock(), checkpoints=store) as first_life, pytest.raises(ProcessCrash):
        first_life.run(three_steps(), {}, name="abandoned")
    execution_arn = store.unfinished()[0]

    # When it is stopped from another interpreter, Then it is closed as aborted
    with Interpreter(checkpoints=store) as interpreter:
        interpreter.stop(execution_arn)
        assert store.unfinished() == []
        with pytest.raises(ExecutionDoesNotExist):
            interpreter.stop(execution_arn)
    assert store.load(execution_arn)[-1]["status"] == "ABORTED"


def test_checkpoint_records_are_plain_json(store, functions):
    # Given a finished execution with a task, a wait and a choice
    arn = functions.add("work", lambda event: {"ok": True})
    machine = load_state_machine(
        {
            "StartAt": "T",
            "States": {
                "T": {"Type": "Task", "Resource": arn, "Next": "W"},
                "W": {"Type": "Wait", "Seconds": 1, "Next": "C"},
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "E"}]},
                "E": {"Type": "Succeed"},
            },
        }
    )
    with Interpreter(invoke=functions, clock=FakeClock(), checkpoints=store) as interpreter:
        result = interpreter.run(machine, {})

    # When its checkpoint log is read, Then every record survives a JSON round trip (any store can keep it)
    records = store.load(result.execution_arn)
    assert json.loads(json.dumps(records)) == records
    assert records[0]["kind"] == "start" and records[-1]["kind"] == "end"
    assert sum(1 for r in records if r["kind"] == "event") == len(result.history)


def test_an_execution_timeout_times_the_execution_out(clock, functions, types_of):
    # Given a machine with TimeoutSeconds 30 and a 60-second Wait
    machine = load_state_machine(
        {"TimeoutSeconds": 30, "StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 60, "End": True}}}
    )
    # (a Wait is instantaneous with a FakeClock, so drive the clock from a slow function instead)

    def slow(event: Any) -> Any:
        clock.advance(45)
        return event

    slow_machine = load_state_machine(
        {
            "TimeoutSeconds": 30,
            "StartAt": "Work",
            "States": {"Work": {"Type": "Task", "Resource": functions.add("slow", slow), "End": True}},
        }
    )

    # When they run
    with Interpreter(invoke=functions, clock=clock) as interpreter:
        waited = interpreter.run(machine, {})
        worked = interpreter.run(slow_machine, {})

    # Then both time out with ExecutionTimedOut
    for result in (waited, worked):
        assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
        assert types_of(result.history)[-1] == "ExecutionTimedOut"
