"""Task: Lambda functions, by function ARN or through ``arn:aws:states:::lambda:invoke[.waitForTaskToken]``,
and child executions through ``arn:aws:states:::states:startExecution[.sync|.sync:2]`` (asl/child_executions.py).

History as Step Functions writes it: a function ARN gives LambdaFunctionScheduled / Started / Succeeded |
Failed | TimedOut; the lambda:invoke integration gives TaskScheduled / TaskStarted / (TaskSubmitted) /
TaskSucceeded | TaskFailed | TaskTimedOut. Each attempt's outcome is checkpointed; a resumed execution
uses the recorded outcome instead of invoking the function again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.asl.callbacks import CallbackOutcome
from orchestrator.asl.checkpoints import Outcome
from orchestrator.asl.child_executions import (
    START_ASYNC,
    START_SYNC,
    START_SYNC2,
    TASK_FAILED,
    ChildRequest,
)
from orchestrator.asl.child_executions import describe as describe_child
from orchestrator.asl.errors import (
    STATES_HEARTBEAT_TIMEOUT,
    STATES_TIMEOUT,
    StatesError,
    runtime_error,
)
from orchestrator.asl.lambda_invoke import (
    FunctionFailure,
    event_from_payload,
    invoke_response,
    marshal_error,
)
from orchestrator.asl.paths import Reference, ReferenceNotFound, invalid_path_error
from orchestrator.asl.runtime import StateRun, race_with_alarm
from orchestrator.asl.states.base import RecoverableState
from orchestrator.asl.timestamps import epoch_millis
from orchestrator.asl.values import NOT_TRUNCATED, exceeds_payload_quota, roundtrip, to_json

FUNCTION = "function"  # arn:aws:lambda:...:function:name
INVOKE = "invoke"  # arn:aws:states:::lambda:invoke
INVOKE_CALLBACK = "invoke.waitForTaskToken"
START_EXECUTION_KINDS = (START_ASYNC, START_SYNC, START_SYNC2)


@dataclass(frozen=True, slots=True)
class Duration:
    """TimeoutSeconds/HeartbeatSeconds: a literal, a reference path, or (JSONata) an expression."""

    field: str
    seconds: int | None = None
    path: Reference | None = None
    expression: Any = None  # (run, data) -> value

    def resolve(self, run: StateRun, data: Any) -> int:
        if self.seconds is not None:
            return self.seconds
        if self.path is not None:
            try:
                value = self.path.resolve(data, run)
            except ReferenceNotFound as missing:
                raise invalid_path_error(self.path, missing) from None
        else:
            value = self.expression(run, data)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            shown = self.path.text if self.path is not None else self.field
            raise runtime_error(f"The {self.field} value must be a positive integer: {shown} == {to_json(value)}")
        return value


class TaskState(RecoverableState):
    type_name = "Task"

    def __init__(
        self,
        name: str,
        next_state: str | None,
        flow: Any,
        *,
        kind: str,
        resource: str,
        region: str,
        timeout: Duration | None,
        heartbeat: Duration | None,
        retriers: tuple = (),
        catchers: tuple = (),
    ) -> None:
        super().__init__(name, next_state, flow, retriers, catchers)
        self.kind = kind
        self.resource = resource
        self.region = region
        self.timeout = timeout
        self.heartbeat = heartbeat

    async def attempt(self, run: StateRun, data: Any) -> tuple[Any, dict[str, Any] | None]:
        if self.kind == FUNCTION:
            result = await self._function_arn(run, data)
        elif self.kind in START_EXECUTION_KINDS:
            result = await self._start_execution(run, data)
        else:
            result = await self._lambda_invoke(run, data)
        return self.flow.output(data, result, run)

    def _durations(self, run: StateRun, data: Any) -> tuple[int | None, int | None]:
        selected = self.flow.select_input(data, run)
        timeout = self.timeout.resolve(run, selected) if self.timeout is not None else None
        heartbeat = self.heartbeat.resolve(run, selected) if self.heartbeat is not None else None
        return timeout, heartbeat

    # -- arn:aws:lambda:...:function:... ------------------------------------------------------------------

    async def _function_arn(self, run: StateRun, data: Any) -> Any:
        timeout, _ = self._durations(run, data)
        payload = self.flow.effective_input(data, run)
        event, payload_json = roundtrip(payload)
        scheduled: dict[str, Any] = {
            "resource": self.resource,
            "input": payload_json,
            "inputDetails": NOT_TRUNCATED,
        }
        if timeout is not None:
            scheduled["timeoutInSeconds"] = timeout
        run.emit("LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails", scheduled)
        run.emit("LambdaFunctionStarted")
        outcome = run.execution.recorded_outcome(run.attempt_key)
        if outcome is None:
            outcome = await self._invoke(run, self.resource, event, timeout, self.resource)
        if outcome.failed:
            if outcome.error == STATES_TIMEOUT:
                run.emit("LambdaFunctionTimedOut", "lambdaFunctionTimedOutEventDetails", _error_details(outcome))
            else:
                run.emit("LambdaFunctionFailed", "lambdaFunctionFailedEventDetails", _error_details(outcome))
            raise StatesError(outcome.error, outcome.cause, from_task=outcome.from_task)
        result_json = outcome.result_json or to_json(outcome.result)
        run.emit(
            "LambdaFunctionSucceeded",
            "lambdaFunctionSucceededEventDetails",
            {"output": result_json, "outputDetails": NOT_TRUNCATED},
        )
        run.known = (outcome.result, result_json)
        return outcome.result

    async def _invoke(
        self,
        run: StateRun,
        function: str,
        event: Any,
        timeout: int | None,
        subject: str,
        wrap: bool = False,
        record_key: str | None = None,
    ) -> Outcome:
        """Invoke the function once (racing TimeoutSeconds) and checkpoint the outcome."""
        execution = run.execution
        deadline = execution.clock.now() + timedelta(seconds=timeout) if timeout is not None else None
        key = record_key or run.attempt_key
        finished, value = await race_with_alarm(execution.call_function(function, event), execution.clock, deadline)
        if not finished:
            return self._failed(run, key, StatesError(STATES_TIMEOUT, None, from_task=True))
        if isinstance(value, FunctionFailure):
            return self._failed(run, key, value.error)
        try:
            result, result_json = roundtrip(value)
        except (TypeError, ValueError) as exc:
            return self._failed(run, key, marshal_error(exc))
        if exceeds_payload_quota(result_json):
            return self._failed(run, key, execution.data_limit_error(subject))
        if wrap:
            result = invoke_response(result, result_json, execution.clock.now())
            result_json = to_json(result)
        execution.record_result(key, result_json)
        return Outcome(result=result, result_json=result_json)

    @staticmethod
    def _failed(run: StateRun, key: str, error: StatesError) -> Outcome:
        run.execution.record_failure(key, error)
        return Outcome(error=error.error, cause=error.cause, failed=True, from_task=error.from_task)

    # -- arn:aws:states:::states:startExecution[.sync|.sync:2] -----------------------------------------------

    async def _start_execution(self, run: StateRun, data: Any) -> Any:
        timeout, heartbeat = self._durations(run, data)
        parameters = self.flow.effective_input(data, run)
        self._emit_scheduled(run, "states", parameters, timeout, heartbeat)
        outcome = run.execution.recorded_outcome(run.attempt_key)
        if outcome is None:
            outcome = await self._run_child(run, parameters, timeout)
        details = {"resourceType": "states", "resource": self.kind}
        if outcome.failed:
            timed_out = outcome.error == STATES_TIMEOUT
            run.emit("TaskTimedOut" if timed_out else "TaskFailed",
                     "taskTimedOutEventDetails" if timed_out else "taskFailedEventDetails",
                     {**details, **_error_details(outcome)})
            raise StatesError(outcome.error, outcome.cause, from_task=outcome.from_task)
        result_json = outcome.result_json or to_json(outcome.result)
        run.emit("TaskSucceeded", "taskSucceededEventDetails",
                 {**details, "output": result_json, "outputDetails": NOT_TRUNCATED})
        run.known = (outcome.result, result_json)
        return outcome.result

    def _emit_scheduled(self, run: StateRun, resource_type: str, parameters: Any, timeout: int | None,
                        heartbeat: int | None) -> None:
        """TaskScheduled and TaskStarted of a service integration, as Step Functions writes them."""
        scheduled: dict[str, Any] = {
            "resourceType": resource_type,
            "resource": self.kind,
            "region": self.region,
            "parameters": to_json(parameters),
        }
        if timeout is not None:
            scheduled["timeoutInSeconds"] = timeout
        if heartbeat is not None:
            scheduled["heartbeatInSeconds"] = heartbeat
        run.emit("TaskScheduled", "taskScheduledEventDetails", scheduled)
        run.emit("TaskStarted", "taskStartedEventDetails", {"resourceType": resource_type, "resource": self.kind})

    async def _run_child(self, run: StateRun, parameters: Any, timeout: int | None) -> Outcome:
        execution = run.execution
        key = run.attempt_key
        children = execution.children
        assert children is not None, "the interpreter gives every execution its ChildExecutions"
        try:
            request = ChildRequest.from_parameters(parameters, execution)
            child_arn, started = children.start(execution, request)
        except StatesError as refused:
            return self._failed(run, key, StatesError(refused.error, refused.cause, from_task=True))
        submitted = {"ExecutionArn": child_arn, "StartDate": epoch_millis(started)}
        if self.kind == START_ASYNC:
            result_json = to_json(submitted)
            execution.record_result(key, result_json)
            return Outcome(result=submitted, result_json=result_json)
        run.emit("TaskSubmitted", "taskSubmittedEventDetails", {
            "resourceType": "states", "resource": self.kind, "output": to_json(submitted), "outputDetails": NOT_TRUNCATED,
        })
        execution.writer.flush()  # the child runs on its own: its start must be durable before we wait
        deadline = execution.clock.now() + timedelta(seconds=timeout) if timeout is not None else None
        finished, result = await race_with_alarm(children.wait(execution, child_arn), execution.clock, deadline)
        if not finished:
            return self._failed(run, key, StatesError(STATES_TIMEOUT, None, from_task=True))
        described = describe_child(result, request.state_machine_arn, request.input_value,
                                   as_values=self.kind == START_SYNC2)
        if result.status != "SUCCEEDED":
            return self._failed(run, key, StatesError(TASK_FAILED, to_json(described), from_task=True))
        result_json = to_json(described)
        if exceeds_payload_quota(result_json):
            return self._failed(run, key, execution.data_limit_error(self.name))
        execution.record_result(key, result_json)
        return Outcome(result=described, result_json=result_json)

    # -- arn:aws:states:::lambda:invoke[.waitForTaskToken] ------------------------------------------------

    async def _lambda_invoke(self, run: StateRun, data: Any) -> Any:
        execution = run.execution
        callback = self.kind == INVOKE_CALLBACK
        if callback:
            # The token must exist before Parameters are evaluated: they pass $$.Task.Token on.
            run.set_task_token(execution.task_token(run.attempt_key))
        timeout, heartbeat = self._durations(run, data)
        parameters = self.flow.effective_input(data, run)
        function_name = parameters.get("FunctionName") if isinstance(parameters, dict) else None
        if not isinstance(function_name, str) or not function_name:
            raise runtime_error(
                f"The field 'FunctionName' is required by {self.resource} and must be a string: {to_json(parameters)}"
            )
        invocation_type = parameters.get("InvocationType", "RequestResponse")
        if invocation_type not in ("RequestResponse", "Event"):
            raise runtime_error(f"Unsupported InvocationType '{invocation_type}' (RequestResponse or Event)")
        resource_name = self.kind
        self._emit_scheduled(run, "lambda", parameters, timeout, heartbeat)
        event, _ = roundtrip(event_from_payload(parameters.get("Payload")))
        if callback:
            outcome = await self._invoke_and_wait_for_token(run, function_name, event, timeout, heartbeat)
        else:
            outcome = execution.recorded_outcome(run.attempt_key)
            if outcome is None:
                if invocation_type == "Event":
                    outcome = await self._invoke_async(run, function_name, event)
                else:
                    outcome = await self._invoke(run, function_name, event, timeout, function_name, wrap=True)
        if outcome.failed:
            timed_out = outcome.error in (STATES_TIMEOUT, STATES_HEARTBEAT_TIMEOUT)
            details = {"resourceType": "lambda", "resource": resource_name, **_error_details(outcome)}
            if timed_out:
                run.emit("TaskTimedOut", "taskTimedOutEventDetails", details)
            else:
                run.emit("TaskFailed", "taskFailedEventDetails", details)
            raise StatesError(outcome.error, outcome.cause, from_task=outcome.from_task)
        result_json = outcome.result_json or to_json(outcome.result)
        run.emit(
            "TaskSucceeded",
            "taskSucceededEventDetails",
            {
                "resourceType": "lambda",
                "resource": resource_name,
                "output": result_json,
                "outputDetails": NOT_TRUNCATED,
            },
        )
        run.known = (outcome.result, result_json)
        return outcome.result

    async def _invoke_async(self, run: StateRun, function_name: str, event: Any) -> Outcome:
        """InvocationType Event: Lambda queues the call and answers 202 at once."""
        execution = run.execution
        invocation = asyncio.ensure_future(execution.call_function(function_name, event))
        _BACKGROUND_INVOCATIONS.add(invocation)  # asyncio only keeps weak references to tasks
        invocation.add_done_callback(_discard_result)
        result = invoke_response("", '""', execution.clock.now(), status_code=202)
        execution.record_result(run.attempt_key, to_json(result))
        return Outcome(result=result)

    async def _invoke_and_wait_for_token(
        self, run: StateRun, function_name: str, event: Any, timeout: int | None, heartbeat: int | None
    ) -> Outcome:
        execution = run.execution
        key = run.attempt_key
        recorded = execution.recorded_outcome(key)
        if recorded is not None:
            return recorded
        token = run.task_token
        assert token is not None
        started = execution.clock.now()
        waiter = execution.tokens.register(token)
        try:
            submit_key = f"{key}~submit"
            submitted = execution.recorded_outcome(submit_key)
            if submitted is None:
                # Recorded under its own key: the attempt's outcome is the callback's, and a resumed
                # execution must not invoke the function (and hand out the token) a second time.
                submitted = await self._invoke(
                    run, function_name, event, timeout, function_name, wrap=True, record_key=submit_key
                )
            if submitted.failed:
                return submitted
            run.emit(
                "TaskSubmitted",
                "taskSubmittedEventDetails",
                {
                    "resourceType": "lambda",
                    "resource": self.kind,
                    "output": to_json(submitted.result),
                    "outputDetails": NOT_TRUNCATED,
                },
            )
            outcome = await self._wait_for_callback(run, waiter, started, timeout, heartbeat)
        finally:
            execution.tokens.unregister(token)
        if outcome.failed:
            execution.record_failure(key, StatesError(outcome.error, outcome.cause, from_task=outcome.from_task))
        else:
            execution.record_result(key, to_json(outcome.result))
        execution.writer.flush()
        return outcome

    async def _wait_for_callback(
        self, run: StateRun, waiter: Any, started: datetime, timeout: int | None, heartbeat: int | None
    ) -> Outcome:
        clock = run.execution.clock
        run.execution.writer.flush()
        timeout_at = started + timedelta(seconds=timeout) if timeout is not None else None
        beat_at = started
        while True:
            heartbeat_due = beat_at + timedelta(seconds=heartbeat) if heartbeat is not None else None
            deadlines = [d for d in (timeout_at, heartbeat_due) if d is not None]
            waits: set[asyncio.Future[Any]] = {waiter.outcome, asyncio.ensure_future(waiter.heartbeat.wait())}
            alarm = asyncio.ensure_future(clock.alarm(min(deadlines))) if deadlines else None
            if alarm is not None:
                waits.add(alarm)
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pending in waits:
                    if pending is not waiter.outcome and not pending.done():
                        pending.cancel()
            if waiter.outcome.done():
                sent: CallbackOutcome = waiter.outcome.result()
                if sent.failed:
                    return Outcome(error=sent.error, cause=sent.cause, failed=True)
                return Outcome(result=sent.output)
            if waiter.heartbeat.is_set():
                waiter.heartbeat.clear()
                beat_at = clock.now()
                continue
            now = clock.now()
            if timeout_at is not None and now >= timeout_at:
                return Outcome(error=STATES_TIMEOUT, failed=True)
            if heartbeat_due is not None and now >= heartbeat_due:
                return Outcome(error=STATES_HEARTBEAT_TIMEOUT, failed=True)


def _error_details(outcome: Outcome) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if outcome.error is not None:
        details["error"] = outcome.error
    if outcome.cause is not None:
        details["cause"] = outcome.cause
    return details


_BACKGROUND_INVOCATIONS: set[asyncio.Future[Any]] = set()


def _discard_result(task: asyncio.Future[Any]) -> None:
    # An asynchronous (Event) invocation's outcome is not the task's business; read it so asyncio does
    # not warn about an unretrieved exception.
    _BACKGROUND_INVOCATIONS.discard(task)
    if not task.cancelled():
        task.exception()
