"""The cloud Lambda handlers, each wired to a real SQLite store and recording fakes of SQS / Step Functions."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from orchestrator.adapters.local.lambdas import LocalLambdaContext
from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.records import ExecutionRecord, WorkflowRecord, WorkflowStatus
from orchestrator.ports.state_machines import ExecutionDescription, ExecutionNotFound
from orchestrator.services.executions import ExecutionService

PROJECT = Path(__file__).resolve().parents[3]
MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:orchestrator-workflow-dev"


def load_handler(function: str) -> ModuleType:
    path = PROJECT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"test_functions.{function}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def event(name: str) -> dict[str, Any]:
    return json.loads((PROJECT / "events" / name).read_text())


def context(function: str) -> LocalLambdaContext:
    return LocalLambdaContext(function_name=function, invoked_function_arn=f"arn:aws:lambda:eu-west-1:123456789012:function:{function}")


@dataclass
class RecordingQueue:
    sent: list[tuple[str, int]] = field(default_factory=list)

    def send(self, execution_id: str, *, priority: int = 0) -> None:
        self.sent.append((execution_id, priority))


@dataclass
class RecordingMachines:
    started: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)

    def start_execution(self, state_machine: str, name: str, input: dict[str, Any]) -> str:
        self.started.setdefault(name, input)
        return f"{state_machine}:{name}"

    def describe_execution(self, execution_arn: str) -> ExecutionDescription:
        name = execution_arn.rsplit(":", 1)[-1]
        if name not in self.started:
            raise ExecutionNotFound(execution_arn)
        return ExecutionDescription(execution_arn, name, MACHINE, self.statuses.get(name, "RUNNING"), None, None,
                                    None, None, None, None)  # type: ignore[arg-type]

    def stop_execution(self, execution_arn: str, error: str | None = None, cause: str | None = None) -> None:
        self.statuses[execution_arn.rsplit(":", 1)[-1]] = "ABORTED"

    def send_task_success(self, task_token: str, output: Any) -> None: ...
    def send_task_failure(self, task_token: str, error: str | None = None, cause: str | None = None) -> None: ...
    def send_task_heartbeat(self, task_token: str) -> None: ...


@pytest.fixture
def store() -> SqliteStore:
    return SqliteStore.in_memory()


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def machines() -> RecordingMachines:
    return RecordingMachines()


@pytest.fixture
def service(store, queue, machines) -> ExecutionService:
    return ExecutionService(store, queue, machines, MACHINE)


def queued_execution(store: SqliteStore, execution_id: str) -> ExecutionRecord:
    workflow = store.get_workflow("wf-1") or store.create_workflow(
        WorkflowRecord(id="wf-1", name="wf", owner_id="o", status=WorkflowStatus.ACTIVE),
        {"name": "wf", "steps": [{"id": "a", "type": "condition", "config": {"expression": "true"}}]},
    )
    return store.create_execution(ExecutionRecord(id=execution_id, workflow_id=workflow.id, workflow_version=1, owner_id="o"))
