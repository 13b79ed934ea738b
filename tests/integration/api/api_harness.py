"""The API test harness: the HTTP API on a real SQLite store in a temporary directory, with the real ExecutionService.

The ExecutionService's queue and state machines are recording fakes: submitting saves a queued execution
and "announces" it, and nothing runs it, so each test moves executions through their lifecycle itself
(through the API, or with the store as the engine would).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.api import create_app
from orchestrator.api.auth import issue_api_key
from orchestrator.services.execution_events import EventStreamOptions
from orchestrator.services.executions import ExecutionService
from orchestrator.services.notifier import ExecutionNotifier
from orchestrator.settings import Settings
from support.recording_ports import RecordingMachines, RecordingQueue

ADMIN_KEY = "ork_test-admin-key-from-the-environment"
MAX_REQUEST_BYTES = 64 * 1024


def script_step(step_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "script", "config": {"runtime": "python", "code": "print('{}')"}, **extra}


def definition(name: str = "nightly-report", **extra: Any) -> dict[str, Any]:
    return {"version": "1.0", "name": name, "steps": [script_step("fetch"), script_step("report", depends_on=["fetch"])],
            **extra}


@dataclass
class Api:
    """The client and what is behind it; ``as_owner(name)`` gives headers with a fresh key of that owner."""

    client: TestClient
    store: SqliteStore
    executions: ExecutionService
    notifier: ExecutionNotifier
    queue: RecordingQueue
    keys: dict[str, str] = field(default_factory=dict)

    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}

    def as_owner(self, owner_id: str) -> dict[str, str]:
        if owner_id not in self.keys:
            _, self.keys[owner_id] = issue_api_key(self.store, owner_id)
        return {"X-API-Key": self.keys[owner_id]}

    def create_workflow(self, owner: str = "alice", **body: Any) -> dict[str, Any]:
        body.setdefault("definition", definition())
        response = self.client.post("/api/v1/workflows", json=body, headers=self.as_owner(owner))
        assert response.status_code == 201, response.text
        return response.json()

    def execute(self, workflow_id: str, owner: str = "alice", **body: Any) -> dict[str, Any]:
        response = self.client.post(f"/api/v1/workflows/{workflow_id}/execute", json=body, headers=self.as_owner(owner))
        assert response.status_code == 202, response.text
        return response.json()


def make_api(store: SqliteStore, **app_options: Any) -> Api:
    notifier = ExecutionNotifier()
    queue = RecordingQueue()
    executions = ExecutionService(store, queue, RecordingMachines(), "WorkflowStateMachine", notifier)
    settings = Settings(admin_api_key=ADMIN_KEY, max_request_bytes=MAX_REQUEST_BYTES, home=Path(store.path).parent)
    app_options.setdefault("event_stream", EventStreamOptions(poll_seconds=0.05, settle_seconds=0.05))
    app = create_app(store, executions, settings, notifier=notifier, **app_options)
    return Api(TestClient(app, raise_server_exceptions=False), store, executions, notifier, queue)
