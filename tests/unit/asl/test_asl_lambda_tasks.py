"""Lambda Task states: both resource forms, error mapping, Retry timing, Catch, payload limits."""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import pytest

from orchestrator.asl import Interpreter, load_state_machine

INVOKE = "arn:aws:states:::lambda:invoke"


def single_task(task: dict[str, Any], **states: Any) -> Any:
    return load_state_machine({"StartAt": "Work", "States": {"Work": {"Type": "Task", **task}, **states}})


class ValidationFailed(Exception):
    """A function error whose name is not the class name."""

    error = "Custom.ValidationFailed"


def test_function_arn_task_calls_the_function_with_the_effective_input(interpreter, functions, types_of):
    # Given a function and a Task that sends it part of the input
    arn = functions.add("double", lambda event: {"value": event["n"] * 2})
    machine = single_task(
        {"Resource": arn, "InputPath": "$.args", "ResultPath": "$.result", "End": True}
    )

    # When it runs
    result = interpreter.run(machine, {"args": {"n": 21}, "keep": True})

    # Then the function got the InputPath selection and its result landed at ResultPath
    assert functions.calls == [("double", {"n": 21})]
    assert result.status == "SUCCEEDED"
    assert result.output == {"args": {"n": 21}, "keep": True, "result": {"value": 42}}
    # And the history uses the Lambda* events of a function ARN resource
    assert types_of(result.history) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    scheduled = result.history[2]["lambdaFunctionScheduledEventDetails"]
    assert scheduled["resource"] == arn
    assert json.loads(scheduled["input"]) == {"n": 21}


def test_lambda_invoke_returns_the_invoke_api_response(interpreter, functions, types_of):
    # Given a lambda:invoke Task with FunctionName and Payload parameters
    functions.add("greet", lambda event: {"greeting": f"hello {event['who']}"})
    machine = single_task(
        {"Resource": INVOKE, "Parameters": {"FunctionName": "greet", "Payload": {"who.$": "$.name"}}, "End": True}
    )

    # When it runs
    result = interpreter.run(machine, {"name": "ada"})

    # Then the result wraps the function's return value as the Invoke API does
    assert result.status == "SUCCEEDED"
    output = result.output
    assert output["Payload"] == {"greeting": "hello ada"}
    assert output["StatusCode"] == 200
    assert output["ExecutedVersion"] == "$LATEST"
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert output["SdkResponseMetadata"]["RequestId"]
    # And the history uses the Task* events of a service integration
    assert types_of(result.history) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    scheduled = result.history[2]["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "lambda"
    assert scheduled["resource"] == "invoke"
    assert json.loads(scheduled["parameters"]) == {"FunctionName": "greet", "Payload": {"who": "ada"}}


def test_lambda_invoke_parses_a_json_string_payload(interpreter, functions):
    # Given a Payload that is JSON text (as Lambda receives bytes)
    functions.add("echo", lambda event: event)
    machine = single_task(
        {
            "Resource": INVOKE,
            "Parameters": {"FunctionName": "echo", "Payload": '{"a": [1, 2]}'},
            "OutputPath": "$.Payload",
            "End": True,
        }
    )

    # When it runs, Then the function received the parsed JSON
    assert interpreter.run(machine, {}).output == {"a": [1, 2]}


def test_a_function_error_is_named_after_the_exception_class(interpreter, functions):
    # Given a function that raises ValueError
    def fail(event: Any) -> Any:
        raise ValueError("amount must be positive")

    arn = functions.add("charge", fail)

    # When a Task calls it
    result = interpreter.run(single_task({"Resource": arn, "End": True}), {})

    # Then the execution fails with the class name and Lambda's error payload as the cause
    assert result.status == "FAILED"
    assert result.error == "ValueError"
    cause = json.loads(result.cause)
    assert cause["errorMessage"] == "amount must be positive"
    assert cause["errorType"] == "ValueError"
    # (the stack trace holds the frames of the invoke callable, not the interpreter's)
    assert "in fail" in cause["stackTrace"][-1]
    assert not any("orchestrator/asl" in frame for frame in cause["stackTrace"])
    failed = [e for e in result.history if e["type"] == "LambdaFunctionFailed"]
    assert failed[0]["lambdaFunctionFailedEventDetails"]["error"] == "ValueError"


def test_an_error_attribute_names_the_error(interpreter, functions):
    # Given a function raising an exception with an ``error`` attribute
    def fail(event: Any) -> Any:
        raise ValidationFailed("bad input")

    functions.add("check", fail)
    machine = single_task({"Resource": INVOKE, "Parameters": {"FunctionName": "check"}, "End": True})

    # When lambda:invoke calls it
    result = interpreter.run(machine, {})

    # Then the function's error type is the execution's error, reported in TaskFailed
    assert result.error == "Custom.ValidationFailed"
    assert json.loads(result.cause)["errorType"] == "Custom.ValidationFailed"
    failed = [e for e in result.history if e["type"] == "TaskFailed"][0]["taskFailedEventDetails"]
    assert failed["error"] == "Custom.ValidationFailed"
    assert failed["resourceType"] == "lambda"


def _always_failing(functions, error_class: type[Exception] = ValueError) -> str:
    def fail(event: Any) -> Any:
        raise error_class("try again")

    return functions.add("flaky", fail)


def test_retry_waits_interval_times_backoff_rate(functions, clock):
    # Given a Retrier with IntervalSeconds 2 and BackoffRate 3
    arn = _always_failing(functions)
    machine = single_task(
        {
            "Resource": arn,
            "Retry": [{"ErrorEquals": ["ValueError"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}],
            "End": True,
        }
    )
    start = clock.now()

    # When the function keeps failing
    with Interpreter(invoke=functions, clock=clock) as interpreter:
        result = interpreter.run(machine, {})

    # Then it was called 1 + 3 times, waiting 2, 6 and 18 seconds between the calls
    assert result.status == "FAILED" and result.error == "ValueError"
    assert len(functions.calls) == 4
    assert clock.sleeps == [2.0, 6.0, 18.0]
    assert (clock.now() - start).total_seconds() == pytest.approx(26.0)


def test_max_delay_seconds_caps_the_backoff(functions, clock):
    # Given a steep backoff capped by MaxDelaySeconds
    arn = _always_failing(functions)
    retrier = {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3, "BackoffRate": 10, "MaxAttempts": 4, "MaxDelaySeconds": 50}
    machine = single_task({"Resource": arn, "Retry": [retrier], "End": True})

    # When the function keeps failing
    with Interpreter(invoke=functions, clock=clock) as interpreter:
        interpreter.run(machine, {})

    # Then no wait exceeds the cap
    assert clock.sleeps == [3.0, 30.0, 50.0, 50.0]


def test_full_jitter_draws_each_wait_below_the_backoff(functions, clock):
    # Given JitterStrategy FULL and a seeded random source
    arn = _always_failing(functions)
    retrier = {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 4, "BackoffRate": 2, "MaxAttempts": 3, "JitterStrategy": "FULL"}
    machine = single_task({"Resource": arn, "Retry": [retrier], "End": True})

    # When the function keeps failing
    with Interpreter(invoke=functions, clock=clock, rng=random.Random(7)) as interpreter:
        interpreter.run(machine, {})

    # Then each wait is drawn from [0, backoff] with that seed
    expected_rng = random.Random(7)
    assert clock.sleeps == [pytest.approx(expected_rng.uniform(0, cap)) for cap in (4, 8, 16)]
    assert all(0 <= waited <= cap for waited, cap in zip(clock.sleeps, (4, 8, 16), strict=True))


def test_max_attempts_zero_never_retries(interpreter, functions, clock):
    # Given a Retrier that allows no attempt
    arn = _always_failing(functions)
    machine = single_task({"Resource": arn, "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}], "End": True})

    # When the function fails
    result = interpreter.run(machine, {})

    # Then it is not called again
    assert result.status == "FAILED"
    assert len(functions.calls) == 1
    assert clock.sleeps == []


def test_the_first_matching_retrier_applies_with_its_own_count(interpreter, functions, clock):
    # Given two retriers: the first for ValueError (1 attempt), the second for everything (5 attempts)
    arn = _always_failing(functions)
    retry = [
        {"ErrorEquals": ["ValueError"], "MaxAttempts": 1, "IntervalSeconds": 1},
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5, "IntervalSeconds": 7},
    ]
    machine = single_task({"Resource": arn, "Retry": retry, "End": True})

    # When the function keeps raising ValueError
    result = interpreter.run(machine, {})

    # Then only the first retrier is used: once exhausted the state fails (no fall-through)
    assert result.status == "FAILED"
    assert len(functions.calls) == 2
    assert clock.sleeps == [1.0]


def test_retry_count_is_in_the_context_object(interpreter, functions):
    # Given a function that fails until the third call and reports the retry count it was given
    attempts = []

    def flaky(event: Any) -> Any:
        attempts.append(event["retry"])
        if len(attempts) < 3:
            raise ConnectionError("unreachable")
        return event

    arn = functions.add("flaky", flaky)
    machine = single_task(
        {
            "Resource": arn,
            "Parameters": {"retry.$": "$$.State.RetryCount"},
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 5}],
            "End": True,
        }
    )

    # When it runs
    result = interpreter.run(machine, {})

    # Then each attempt saw its retry number
    assert result.status == "SUCCEEDED"
    assert attempts == [0, 1, 2]


def test_catch_passes_the_error_output_to_the_next_state(interpreter, functions):
    # Given a Catcher with a ResultPath
    arn = _always_failing(functions, KeyError)
    machine = single_task(
        {"Resource": arn, "Catch": [{"ErrorEquals": ["KeyError"], "ResultPath": "$.problem", "Next": "Recover"}], "End": True},
        Recover={"Type": "Pass", "End": True},
    )

    # When the function fails
    result = interpreter.run(machine, {"order": 7})

    # Then the next state got the input with {"Error", "Cause"} at the ResultPath
    assert result.status == "SUCCEEDED"
    assert result.output["order"] == 7
    assert result.output["problem"]["Error"] == "KeyError"
    assert json.loads(result.output["problem"]["Cause"])["errorType"] == "KeyError"


def test_task_failed_does_not_match_a_timeout(interpreter, functions, clock):
    # Given a function slower than the TimeoutSeconds and a Catcher for States.TaskFailed only
    def slow(event: Any) -> Any:
        clock.advance(10)
        return event

    arn = functions.add("slow", slow)
    machine = single_task(
        {
            "Resource": arn,
            "TimeoutSeconds": 5,
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}],
            "End": True,
        },
        Caught={"Type": "Succeed"},
    )

    # When it times out
    result = interpreter.run(machine, {})

    # Then States.TaskFailed did not catch States.Timeout
    assert result.status == "FAILED"
    assert result.error == "States.Timeout"


def test_states_all_does_not_catch_a_runtime_error(interpreter, functions):
    # Given a Task whose Parameters select a path that does not exist, with a catch-all
    arn = functions.add("noop", lambda event: event)
    machine = single_task(
        {
            "Resource": arn,
            "Parameters": {"missing.$": "$.nowhere"},
            "Retry": [{"ErrorEquals": ["States.ALL"]}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
            "End": True,
        },
        Caught={"Type": "Succeed"},
    )

    # When it runs
    result = interpreter.run(machine, {"here": 1})

    # Then the States.Runtime error ends the execution, neither retried nor caught
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert result.cause == (
        "An error occurred while executing the state 'Work' (entered at the event id #2). The JSONPath "
        "'$.nowhere' specified for the field 'missing.$' could not be found in the input '{\"here\":1}'"
    )
    assert functions.calls == []


def test_a_result_over_256_kib_is_data_limit_exceeded(interpreter, functions):
    # Given a function returning more than the payload quota
    arn = functions.add("big", lambda event: "x" * (256 * 1024))
    machine = single_task({"Resource": arn, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
                          Caught={"Type": "Succeed"})

    # When it runs
    result = interpreter.run(machine, {})

    # Then the task fails with States.DataLimitExceeded, which States.ALL does not catch
    assert result.status == "FAILED"
    assert result.error == "States.DataLimitExceeded"
    assert arn in result.cause


def test_a_non_json_result_is_a_marshal_error(interpreter, functions):
    # Given a function returning something Lambda could not serialise
    arn = functions.add("weird", lambda event: {"when": object()})

    # When it runs
    result = interpreter.run(single_task({"Resource": arn, "End": True}), {})

    # Then the task fails as Lambda would
    assert result.error == "Runtime.MarshalError"


def test_a_function_cannot_change_the_state_data_it_was_given(interpreter, functions):
    # Given a function that mutates its event and a Task that keeps the input (ResultPath null)
    def vandal(event: Any) -> Any:
        event["items"].append("surprise")
        return event

    arn = functions.add("vandal", vandal)
    machine = single_task({"Resource": arn, "ResultPath": None, "End": True})

    # When it runs
    result = interpreter.run(machine, {"items": [1]})

    # Then the state's own data is unchanged (the function got a copy, as from Lambda)
    assert result.output == {"items": [1]}


def test_an_async_invoke_is_awaited(clock):
    # Given an ``async def`` invoke callable
    async def invoke(resource: str, payload: Any) -> Any:
        return {"async": True, "got": payload}

    machine = single_task({"Resource": "arn:aws:lambda:us-east-1:123456789012:function:a", "End": True})

    # When a Task calls it
    with Interpreter(invoke=invoke, clock=clock) as interpreter:
        result = interpreter.run(machine, {"n": 1})

    # Then its result is the task result
    assert result.output == {"async": True, "got": {"n": 1}}


def test_an_event_invocation_answers_202_without_waiting_for_the_function(interpreter, functions):
    # Given a lambda:invoke with InvocationType Event and a function that blocks until released
    release = threading.Event()
    finished = threading.Event()

    def background(event: Any) -> Any:
        release.wait(5)
        finished.set()

    functions.add("background", background)
    machine = single_task(
        {
            "Resource": INVOKE,
            "Parameters": {"FunctionName": "background", "InvocationType": "Event", "Payload": {"job": 1}},
            "ResultSelector": {"status.$": "$.StatusCode", "payload.$": "$.Payload"},
            "End": True,
        }
    )

    # When it runs
    result = interpreter.run(machine, {})

    # Then the task got Lambda's 202 at once, and the function still runs
    assert result.output == {"status": 202, "payload": ""}
    assert not finished.is_set()
    release.set()
    assert finished.wait(5)
    assert functions.calls == [("background", {"job": 1})]
