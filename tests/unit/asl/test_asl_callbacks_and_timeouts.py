""".waitForTaskToken callbacks (success, failure, heartbeats) and TimeoutSeconds / HeartbeatSeconds."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from orchestrator.asl import Interpreter, InvalidOutput, TaskDoesNotExist, load_state_machine

CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"


def callback_machine(**task_fields: Any) -> Any:
    task = {
        "Type": "Task",
        "Resource": CALLBACK,
        "Parameters": {"FunctionName": "approve", "Payload": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
        "End": True,
        **task_fields,
    }
    return load_state_machine({"StartAt": "Approval", "States": {"Approval": task}})


class TokenInbox:
    """The 'approve' function: hands the task token to whoever waits for it."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.received = threading.Event()

    def __call__(self, event: Any) -> Any:
        self.tokens.append(event["token"])
        self.received.set()
        return {"queued": True}

    def token(self) -> str:
        assert self.received.wait(5), "the function never received the task token"
        return self.tokens[-1]


@pytest.fixture
def inbox(functions) -> TokenInbox:
    inbox = TokenInbox()
    functions.add("approve", inbox)
    return inbox


def test_send_task_success_completes_the_task(interpreter, inbox, types_of):
    # Given a running callback task that has handed out its token
    handle = interpreter.start(callback_machine(), {"order": 17})
    token = inbox.token()

    # When someone sends success with the token (from another thread)
    interpreter.send_task_success(token, {"approved": True, "by": "ops"})
    result = handle.wait(5)

    # Then the task result is that output
    assert result.status == "SUCCEEDED"
    assert result.output == {"approved": True, "by": "ops"}
    assert types_of(result.history) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    submitted = result.history[4]["taskSubmittedEventDetails"]
    assert submitted["resource"] == "invoke.waitForTaskToken"
    assert '"Payload":{"queued":true}' in submitted["output"]


def test_send_task_success_accepts_json_text(interpreter, inbox):
    # Given a waiting callback task
    handle = interpreter.start(callback_machine(), {"order": 1})

    # When the output is sent as JSON text (as the AWS API takes it)
    interpreter.send_task_success(inbox.token(), '{"approved": false}')

    # Then it is parsed
    assert handle.wait(5).output == {"approved": False}


def test_send_task_failure_fails_the_task_with_its_error(interpreter, inbox):
    # Given a waiting callback task
    handle = interpreter.start(callback_machine(), {"order": 2})

    # When someone reports failure
    interpreter.send_task_failure(inbox.token(), "Approval.Rejected", "budget exceeded")
    result = handle.wait(5)

    # Then the execution fails with that error and cause
    assert (result.status, result.error, result.cause) == ("FAILED", "Approval.Rejected", "budget exceeded")
    failed = [e for e in result.history if e["type"] == "TaskFailed"][0]["taskFailedEventDetails"]
    assert failed["error"] == "Approval.Rejected"


def test_a_token_can_only_be_used_once_and_unknown_tokens_are_rejected(interpreter, inbox):
    # Given a completed callback task
    handle = interpreter.start(callback_machine(), {"order": 3})
    token = inbox.token()
    interpreter.send_task_success(token, {})
    handle.wait(5)

    # When the token is used again, or a made-up token is used
    # Then both are refused
    with pytest.raises(TaskDoesNotExist):
        interpreter.send_task_success(token, {})
    with pytest.raises(TaskDoesNotExist):
        interpreter.send_task_heartbeat("no-such-token")


def test_invalid_json_output_is_rejected(interpreter, inbox):
    # Given a waiting callback task
    handle = interpreter.start(callback_machine(), {"order": 4})
    token = inbox.token()

    # When the output text is not JSON, Then it is refused and the task keeps waiting
    with pytest.raises(InvalidOutput):
        interpreter.send_task_success(token, "{not json")
    interpreter.send_task_success(token, "[1]")
    assert handle.wait(5).output == [1]


def test_a_missed_heartbeat_times_the_task_out(interpreter, inbox, clock, types_of):
    # Given a callback task with HeartbeatSeconds 60
    handle = interpreter.start(callback_machine(HeartbeatSeconds=60), {"order": 5})
    inbox.token()

    # When 61 seconds pass without a heartbeat
    clock.advance(61)
    result = handle.wait(5)

    # Then the task fails with States.HeartbeatTimeout (a TaskTimedOut event)
    assert (result.status, result.error) == ("FAILED", "States.HeartbeatTimeout")
    assert types_of(result.history)[-2:] == ["TaskTimedOut", "ExecutionFailed"]


def test_heartbeats_keep_the_task_alive(interpreter, inbox, clock):
    # Given a callback task with HeartbeatSeconds 60
    handle = interpreter.start(callback_machine(HeartbeatSeconds=60), {"order": 6})
    token = inbox.token()

    # When heartbeats arrive every 40 seconds for 200 seconds, then success
    for _ in range(5):
        interpreter.send_task_heartbeat(token)
        time.sleep(0.02)  # the heartbeat reaches the task before time moves on
        clock.advance(40)
    interpreter.send_task_success(token, {"done": True})

    # Then the task succeeds
    assert handle.wait(5).output == {"done": True}


def test_timeout_seconds_bounds_the_wait_for_a_callback(interpreter, inbox, clock):
    # Given a callback task with TimeoutSeconds 300
    handle = interpreter.start(callback_machine(TimeoutSeconds=300), {"order": 7})
    inbox.token()

    # When 301 seconds pass
    clock.advance(301)
    result = handle.wait(5)

    # Then the task timed out
    assert (result.status, result.error) == ("FAILED", "States.Timeout")


def test_a_heartbeat_timeout_is_caught_by_states_timeout(interpreter, inbox, clock):
    # Given a callback task whose Catcher names States.Timeout
    machine = load_state_machine(
        {
            "StartAt": "Approval",
            "States": {
                "Approval": {
                    "Type": "Task",
                    "Resource": CALLBACK,
                    "HeartbeatSeconds": 10,
                    "Parameters": {"FunctionName": "approve", "Payload": {"token.$": "$$.Task.Token"}},
                    "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Escalate"}],
                    "End": True,
                },
                "Escalate": {"Type": "Pass", "Result": "escalated", "End": True},
            },
        }
    )
    handle = interpreter.start(machine, {})
    inbox.token()

    # When the heartbeat is missed
    clock.advance(11)

    # Then the Catcher took it (a heartbeat timeout is a kind of timeout)
    assert handle.wait(5).output == "escalated"


def test_timeout_seconds_fails_a_slow_function(interpreter, functions, clock, types_of):
    # Given a function that takes 10 (virtual) seconds and a Task with TimeoutSeconds 5
    def slow(event: Any) -> Any:
        clock.advance(10)
        return event

    arn = functions.add("slow", slow)
    machine = load_state_machine(
        {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": arn, "TimeoutSeconds": 5, "End": True}}}
    )

    # When it runs
    result = interpreter.run(machine, {})

    # Then the task times out
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert "LambdaFunctionTimedOut" in types_of(result.history)
    scheduled = result.history[2]["lambdaFunctionScheduledEventDetails"]
    assert scheduled["timeoutInSeconds"] == 5


def test_timeout_seconds_path_reads_the_timeout_from_the_input(interpreter, functions, clock):
    # Given TimeoutSecondsPath and an input asking for 3 seconds
    def slow(event: Any) -> Any:
        clock.advance(4)
        return event

    arn = functions.add("slow", slow)
    machine = load_state_machine(
        {
            "StartAt": "Work",
            "States": {"Work": {"Type": "Task", "Resource": arn, "TimeoutSecondsPath": "$.limit", "End": True}},
        }
    )

    # When a 4-second function runs, Then it times out; with a 5-second limit it does not
    assert interpreter.run(machine, {"limit": 3}).error == "States.Timeout"
    assert interpreter.run(machine, {"limit": 5}).status == "SUCCEEDED"


def test_timeout_seconds_with_the_real_clock(functions):
    # Given a real clock, a function that sleeps 3 s and TimeoutSeconds 1
    arn = functions.add("sleepy", lambda event: time.sleep(3) or event)
    machine = load_state_machine(
        {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": arn, "TimeoutSeconds": 1, "End": True}}}
    )

    # When it runs
    with Interpreter(invoke=functions) as interpreter:
        started = time.monotonic()
        result = interpreter.run(machine, {})
        elapsed = time.monotonic() - started

    # Then it fails after about one second, not three
    assert result.error == "States.Timeout"
    assert 0.9 <= elapsed < 2.5
