"""State machine executions: Step Functions in the cloud, the project's ASL interpreter locally.

Starting is idempotent by name: the control plane names each run after its execution id, and starting a
name that exists with the same input returns the existing run instead of starting a second one (Step
Functions' own rule for a running execution, extended here to finished ones). The same name with a
different input is a conflict, never a second run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

ExecutionStatus = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]


class StateMachineNotFound(LookupError):
    def __init__(self, state_machine: str) -> None:
        self.state_machine = state_machine
        super().__init__(f"state machine {state_machine!r} does not exist")


class ExecutionNotFound(LookupError):
    def __init__(self, execution_arn: str) -> None:
        self.execution_arn = execution_arn
        super().__init__(f"execution {execution_arn!r} does not exist")


class ExecutionNameConflict(RuntimeError):
    """An execution with this name exists with another input: starting it again would be a different run."""

    def __init__(self, name: str, execution_arn: str) -> None:
        self.name = name
        self.execution_arn = execution_arn
        super().__init__(f"execution name {name!r} is taken by {execution_arn!r} with a different input")


class TaskNotFound(LookupError):
    """The task token is unknown, malformed or expired, or its task already finished."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"no waiting task for this token: {reason}")


@dataclass(frozen=True)
class ExecutionDescription:
    arn: str
    name: str
    state_machine: str
    status: ExecutionStatus
    input: Any
    #: the parsed JSON output once SUCCEEDED, else None
    output: Any
    error: str | None
    cause: str | None
    start_date: datetime
    stop_date: datetime | None


class StateMachines(Protocol):
    def start_execution(self, state_machine: str, name: str, input: dict[str, Any]) -> str:
        """Start (or find, see the module doc) the execution ``name``; returns its ARN.
        Raises StateMachineNotFound, ExecutionNameConflict."""

    def stop_execution(self, execution_arn: str, error: str | None = None, cause: str | None = None) -> None:
        """Abort a running execution. Raises ExecutionNotFound."""

    def describe_execution(self, execution_arn: str) -> ExecutionDescription:
        """Raises ExecutionNotFound."""

    def send_task_success(self, task_token: str, output: Any) -> None:
        """Complete a ``.waitForTaskToken`` task with ``output`` (JSON). Raises TaskNotFound."""

    def send_task_failure(self, task_token: str, error: str | None = None, cause: str | None = None) -> None:
        """Fail a ``.waitForTaskToken`` task. Raises TaskNotFound."""

    def send_task_heartbeat(self, task_token: str) -> None:
        """Tell a task with a heartbeat timeout that its worker is alive. Raises TaskNotFound."""
