"""``arn:aws:states:::states:startExecution[.sync|.sync:2]``: a Task that starts a child execution.

As Step Functions does it: the request-response pattern answers ``{ExecutionArn, StartDate}`` at once;
``.sync`` waits for the child and answers its DescribeExecution (``Input``/``Output`` as JSON text),
``.sync:2`` the same with ``Input``/``Output`` as JSON values. A child that fails, times out or is aborted
fails the Task with ``States.TaskFailed`` and that DescribeExecution, as JSON text, for its cause.

Starting is idempotent on the name, as StartExecution is for the same name and input: a resumed parent
whose child already started (or finished) attaches to it instead of starting it twice. Aborting the parent
aborts the children it waits for; shutting the interpreter down leaves both resumable.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestrator.asl.errors import StatesError
from orchestrator.asl.timestamps import epoch_millis
from orchestrator.asl.values import to_json

if TYPE_CHECKING:
    from orchestrator.asl.interpreter import ExecutionResult, Interpreter
    from orchestrator.asl.runtime import Execution

START_EXECUTION = "arn:aws:states:::states:startExecution"
#: the Task kinds, by the resource's integration pattern
START_ASYNC = "startExecution"
START_SYNC = "startExecution.sync"
START_SYNC2 = "startExecution.sync:2"
RESOURCES = {
    START_EXECUTION: START_ASYNC,
    f"{START_EXECUTION}.sync": START_SYNC,
    f"{START_EXECUTION}.sync:2": START_SYNC2,
}
TASK_FAILED = "States.TaskFailed"
DOES_NOT_EXIST = "StepFunctions.StateMachineDoesNotExistException"
INVALID_INPUT = "StepFunctions.InvalidExecutionInputException"


@dataclass(frozen=True)
class ChildRequest:
    state_machine_arn: str
    name: str
    input_value: Any

    @classmethod
    def from_parameters(cls, parameters: Any, parent: Execution) -> ChildRequest:
        if not isinstance(parameters, dict) or not isinstance(parameters.get("StateMachineArn"), str):
            raise StatesError(INVALID_INPUT, "The field 'StateMachineArn' is required and must be a string")
        name = parameters.get("Name")
        if name is not None and not isinstance(name, str):
            raise StatesError(INVALID_INPUT, "The field 'Name' must be a string")
        raw_input = parameters.get("Input", {})
        if isinstance(raw_input, str):
            try:
                raw_input = json.loads(raw_input)
            except ValueError:
                raise StatesError(INVALID_INPUT, "The field 'Input' is not valid JSON") from None
        return cls(parameters["StateMachineArn"], name or str(uuid.uuid4()), raw_input)


class ChildExecutions:
    """Starts and waits for child executions on the parent's interpreter."""

    def __init__(self, interpreter: Interpreter) -> None:
        self.interpreter = interpreter

    def start(self, parent: Execution, request: ChildRequest) -> tuple[str, datetime]:
        """Start the child (or find the one of that name): its execution ARN and start date."""
        interpreter = self.interpreter
        machine = parent.machine if request.state_machine_arn == parent.machine.arn else (
            interpreter.machines.get(request.state_machine_arn))
        if machine is None:
            raise StatesError(DOES_NOT_EXIST, f"State Machine Does Not Exist: '{request.state_machine_arn}'")
        from orchestrator.asl.interpreter import ExecutionAlreadyExists, ExecutionInputError

        try:
            handle = interpreter.start(machine, request.input_value, name=request.name)
        except ExecutionInputError as invalid:
            raise StatesError(INVALID_INPUT, str(invalid)) from None
        except ExecutionAlreadyExists:  # started before this parent was resumed: running, ended or left behind
            child_arn = machine.execution_arn(request.name)
            if not interpreter.is_running(child_arn) and child_arn in interpreter.checkpoints.unfinished():
                interpreter.resume_one(child_arn, machine)
            return child_arn, datetime.fromisoformat(interpreter.checkpoints.load(child_arn)[0]["startTime"])
        return handle.execution_arn, handle.start_date

    async def wait(self, parent: Execution, child_arn: str) -> ExecutionResult:
        """The child's result; an abort of the parent while it waits aborts the child."""
        try:
            return await self.interpreter.wait_for(child_arn)
        except asyncio.CancelledError:
            if self.interpreter.abort_requested(parent.arn) and self.interpreter.is_running(child_arn):
                self.interpreter.stop(child_arn, "States.Aborted", f"The parent execution {parent.arn} was aborted")
            raise


def describe(result: ExecutionResult, state_machine_arn: str, input_value: Any, *, as_values: bool) -> dict[str, Any]:
    """DescribeExecution of an ended child, as the .sync integrations return it."""
    described: dict[str, Any] = {
        "ExecutionArn": result.execution_arn,
        "Input": input_value if as_values else to_json(input_value),
        "InputDetails": {"Included": True},
        "Name": result.name,
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "StateMachineArn": state_machine_arn,
        "Status": result.status,
    }
    if result.start_date is not None:
        described["StartDate"] = epoch_millis(result.start_date)
    if result.stop_date is not None:
        described["StopDate"] = epoch_millis(result.stop_date)
    if result.status == "SUCCEEDED":
        described["Output"] = result.output if as_values else to_json(result.output)
        described["OutputDetails"] = {"Included": True}
    else:
        if result.error is not None:
            described["Error"] = result.error
        if result.cause is not None:
            described["Cause"] = result.cause
    return described
