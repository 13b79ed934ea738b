"""Run state machines on moto's Step Functions interpreter with Python functions as their Lambdas.

moto executes state machines in ``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``
mode, but runs no Lambda code by itself (it would start a Docker container). ``MotoStepFunctions`` plugs
Python handlers in by patching the private ``moto.awslambda.models.LambdaFunction._invoke_lambda`` —
which is why moto is pinned (5.2.5) in pyproject.toml.

    with MotoStepFunctions() as moto_sfn:
        arn = moto_sfn.add_function("StepRunner", lambda event, context: {"ok": True})
        machine = moto_sfn.create_state_machine("wf", definition_text.replace("${Arn}", arn))
        run = moto_sfn.run(machine, {"x": 1})      # MotoRun: status, output, error, cause, events
        run.event_count()                          # history events (paginated get_execution_history)

A handler is ``handler(event, context)``, as in Lambda. Its return value is the function's result
(JSON-encoded, as Lambda does). An exception is a function error: ``errorType`` is the exception's
``error`` attribute if it has one, else its class name — the same rule the project's interpreter applies
(``orchestrator.asl.lambda_invoke.function_error``), so both engines report the same error names.

Importable as ``support.moto_lambda`` from the tests (tests/conftest.py puts tests/ on sys.path) and
from scripts that put ``<repo>/tests`` on sys.path (benchmarks/engine.py).
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws
from moto.awslambda.models import LambdaFunction

from support.moto_sfn_integration import speaking_sfn_integration

REGION = "us-east-1"
Handler = Callable[[Any, Any], Any]

#: a real (if unused) deployment package: create_function wants one
_DUMMY_HANDLER = (
    "def handler(event, context):\n    raise RuntimeError('moto runs the Python handler plugged in')\n"
)


class LambdaContext:
    """The few attributes of Lambda's context object that handlers commonly read."""

    def __init__(self, function_name: str, function_arn: str, timeout_seconds: int) -> None:
        self.function_name = function_name
        self.invoked_function_arn = function_arn
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 128
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_error_payload(exc: BaseException) -> dict[str, Any]:
    """Lambda's error payload for an exception raised by a handler."""
    error_name = getattr(exc, "error", None)
    if not isinstance(error_name, str) or not error_name:
        error_name = type(exc).__name__
    return {"errorMessage": str(exc), "errorType": error_name, "stackTrace": []}


def zip_package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", _DUMMY_HANDLER)
    return buffer.getvalue()


@dataclass
class MotoRun:
    """The end of one execution on moto."""

    execution_arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    seconds: float  # from start_execution until describe_execution reported the end
    client: Any

    def events(self) -> Iterator[dict[str, Any]]:
        """Every history event, following get_execution_history's pagination."""
        kwargs: dict[str, Any] = {}
        while True:
            page = self.client.get_execution_history(
                executionArn=self.execution_arn, maxResults=1000, **kwargs
            )
            yield from page["events"]
            token = page.get("nextToken")
            if not token:
                return
            kwargs = {"nextToken": token}

    def event_count(self) -> int:
        return sum(1 for _ in self.events())


class MotoStepFunctions:
    """mock_aws in execute_state_machine mode, with Python handlers behind moto's Lambda functions."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region
        self.handlers: dict[str, Handler] = {}
        self._stack = ExitStack()
        self.sfn: Any = None
        self.lambda_client: Any = None
        self.role_arn = ""

    def __enter__(self) -> MotoStepFunctions:
        self._stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
        self._stack.enter_context(mock.patch.object(LambdaFunction, "_invoke_lambda", self._patched_invoke()))
        self._stack.enter_context(speaking_sfn_integration())
        self.sfn = boto3.client("stepfunctions", region_name=self.region)
        self.lambda_client = boto3.client("lambda", region_name=self.region)
        iam = boto3.client("iam", region_name=self.region)
        self.role_arn = iam.create_role(
            RoleName="orchestrator-tests",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _patched_invoke(self) -> Callable[..., tuple[str, bool, str]]:
        handlers = self.handlers

        def invoke(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            # moto passes the parsed request body, or the text "{}" when the body is empty
            if event is None or isinstance(event, str | bytes):
                event = json.loads(event or "{}")
            handler = handlers.get(function.function_name)
            if handler is None:
                error = LookupError(
                    f"no Python handler is plugged in for Lambda function {function.function_name!r}"
                )
                return json.dumps(lambda_error_payload(error)), True, ""
            context = LambdaContext(function.function_name, function.function_arn, int(function.timeout or 3))
            try:
                result = handler(event, context)
            except Exception as exc:
                return json.dumps(lambda_error_payload(exc)), True, ""
            return json.dumps(result), False, ""

        return invoke

    def add_function(self, name: str, handler: Handler, *, timeout_seconds: int = 900) -> str:
        """Create the Lambda function ``name`` in moto, backed by ``handler``; returns its ARN."""
        self.handlers[name] = handler
        response = self.lambda_client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role_arn,
            Handler="app.handler",
            Code={"ZipFile": zip_package()},
            Timeout=timeout_seconds,
        )
        return response["FunctionArn"]

    def create_state_machine(self, name: str, definition: dict[str, Any] | str) -> str:
        text = definition if isinstance(definition, str) else json.dumps(definition)
        return self.sfn.create_state_machine(name=name, definition=text, roleArn=self.role_arn)[
            "stateMachineArn"
        ]

    def start(self, state_machine_arn: str, input: Any = None, name: str | None = None) -> str:
        # always named: moto 5.2.5 names an unnamed execution "None", so a second one "already exists"
        return self.sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=name or str(uuid.uuid4()),
            input=json.dumps({} if input is None else input),
        )["executionArn"]

    def wait(
        self,
        execution_arn: str,
        *,
        timeout: float = 600.0,
        poll_seconds: float = 0.02,
        started: float | None = None,
    ) -> MotoRun:
        """Poll describe_execution until the execution ends (TimeoutError after ``timeout`` seconds)."""
        started = time.perf_counter() if started is None else started
        deadline = started + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                seconds = time.perf_counter() - started
                break
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s")
            time.sleep(poll_seconds)
        output = described.get("output")
        return MotoRun(
            execution_arn=execution_arn,
            status=described["status"],
            output=json.loads(output) if output is not None else None,
            error=described.get("error"),
            cause=described.get("cause"),
            seconds=seconds,
            client=self.sfn,
        )

    def run(
        self,
        state_machine_arn: str,
        input: Any = None,
        *,
        name: str | None = None,
        timeout: float = 600.0,
        poll_seconds: float = 0.02,
    ) -> MotoRun:
        """Start an execution and wait for its end."""
        started = time.perf_counter()
        execution_arn = self.start(state_machine_arn, input, name)
        return self.wait(execution_arn, timeout=timeout, poll_seconds=poll_seconds, started=started)
