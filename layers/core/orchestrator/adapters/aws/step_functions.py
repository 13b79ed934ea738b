"""The StateMachines port on AWS Step Functions.

Idempotent start: Step Functions answers a repeated StartExecution (same name, same input) with the
running execution, but with ExecutionAlreadyExists once that execution has finished, or when the input
differs. Here both "same input" cases return the existing execution's ARN, so a redelivered queue message
never starts a second run; a different input raises ExecutionNameConflict. Inputs are sent as canonical
JSON (sorted keys) so that the same dict always makes the same input text, which is what Step Functions
compares.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import LazyClient, error_code, error_message
from orchestrator.observability import logger
from orchestrator.ports.state_machines import (
    ExecutionDescription,
    ExecutionNameConflict,
    ExecutionNotFound,
    StateMachineNotFound,
    TaskNotFound,
)
from orchestrator.settings import Settings

_TASK_TOKEN_ERRORS = {"TaskDoesNotExist", "InvalidToken", "TaskTimedOut"}
_NO_EXECUTION_ERRORS = {"ExecutionDoesNotExist", "InvalidArn"}


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def execution_arn(state_machine_arn: str, name: str) -> str:
    """``arn:aws:states:r:a:stateMachine:M[:version]`` + name -> ``arn:aws:states:r:a:execution:M:name``."""
    parts = state_machine_arn.split(":")
    if len(parts) < 7 or parts[5] != "stateMachine":
        raise ValueError(f"{state_machine_arn!r} is not a state machine ARN")
    return ":".join([*parts[:5], "execution", parts[6], name])


def _parsed(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class StepFunctionsStateMachines:
    def __init__(self, *, region: str | None = None, client: Any = None) -> None:
        self._sfn = LazyClient("stepfunctions", region=region, client=client)

    @classmethod
    def from_settings(cls, settings: Settings, client: Any = None) -> StepFunctionsStateMachines:
        return cls(region=settings.aws_region, client=client)

    def start_execution(self, state_machine: str, name: str, input: dict[str, Any]) -> str:
        try:
            response = self._sfn.get().start_execution(
                stateMachineArn=state_machine, name=name, input=canonical_json(input)
            )
        except ClientError as error:
            code = error_code(error)
            if code == "ExecutionAlreadyExists":
                return self._existing_execution(state_machine, name, input)
            if code == "StateMachineDoesNotExist":
                raise StateMachineNotFound(state_machine) from error
            raise
        return str(response["executionArn"])

    def _existing_execution(self, state_machine: str, name: str, input: dict[str, Any]) -> str:
        arn = execution_arn(state_machine, name)
        existing = self._sfn.get().describe_execution(executionArn=arn)
        if "input" not in existing:
            # Step Functions leaves out inputs it may not show (inputDetails.included = false); the name
            # is the execution id, so this is the same run
            logger.warning("execution exists; its input is not shown, taking it as the same run", extra={"arn": arn})
            return arn
        if _parsed(existing["input"]) != input:
            raise ExecutionNameConflict(name, arn)
        logger.info("execution already started; not starting it again", extra={"arn": arn, "status": existing["status"]})
        return arn

    def stop_execution(self, execution_arn: str, error: str | None = None, cause: str | None = None) -> None:
        request = {"executionArn": execution_arn}
        if error is not None:
            request["error"] = error
        if cause is not None:
            request["cause"] = cause
        with _execution_errors(execution_arn):
            self._sfn.get().stop_execution(**request)

    def describe_execution(self, execution_arn: str) -> ExecutionDescription:
        with _execution_errors(execution_arn):
            response = self._sfn.get().describe_execution(executionArn=execution_arn)
        return ExecutionDescription(
            arn=response["executionArn"],
            name=response["name"],
            state_machine=response["stateMachineArn"],
            status=response["status"],
            input=_parsed(response.get("input")),
            output=_parsed(response.get("output")),
            error=response.get("error"),
            cause=response.get("cause"),
            start_date=response["startDate"],
            stop_date=response.get("stopDate"),
        )

    def send_task_success(self, task_token: str, output: Any) -> None:
        with _task_errors():
            self._sfn.get().send_task_success(taskToken=task_token, output=json.dumps(output))

    def send_task_failure(self, task_token: str, error: str | None = None, cause: str | None = None) -> None:
        request = {"taskToken": task_token}
        if error is not None:
            request["error"] = error
        if cause is not None:
            request["cause"] = cause
        with _task_errors():
            self._sfn.get().send_task_failure(**request)

    def send_task_heartbeat(self, task_token: str) -> None:
        with _task_errors():
            self._sfn.get().send_task_heartbeat(taskToken=task_token)


@contextmanager
def _execution_errors(execution_arn: str) -> Iterator[None]:
    """Step Functions' "no such execution" errors as ExecutionNotFound."""
    try:
        yield
    except ClientError as error:
        if error_code(error) in _NO_EXECUTION_ERRORS:
            raise ExecutionNotFound(execution_arn) from error
        raise


@contextmanager
def _task_errors() -> Iterator[None]:
    """Step Functions' task-token errors as TaskNotFound."""
    try:
        yield
    except ClientError as error:
        if error_code(error) in _TASK_TOKEN_ERRORS:
            raise TaskNotFound(error_message(error)) from error
        raise
