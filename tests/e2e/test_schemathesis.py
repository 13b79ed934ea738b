"""Property-based fuzzing of the whole HTTP API from its own /openapi.json: no request makes a 5xx.

Schemathesis generates requests for every operation of the schema (valid and invalid bodies, query
strings, headers, path parameters) and sends them in-process to the ASGI app, with the admin key, on a
SQLite store in a temporary directory. The one check is ``not_a_server_error``: whatever a client sends,
the API answers with a 2xx, 3xx or 4xx; a 5xx is a bug.

Two passes:
- random path parameters: mostly unknown ids (404s), but every body, query and header validation runs;
- the same generation with the path parameters pointing at records that exist (a workflow and a template,
  an execution that ended and one that runs, a step execution, a trigger, an API key, a webhook path), so
  the handlers behind the 404s run too. DELETE is left out of this pass: it would remove the records the
  other operations need (the random pass covers it).

The server-sent events endpoint (GET /api/v1/executions/{id}/events) streams until its execution ends,
which for the running execution here is never; the app is built with ``max_seconds`` on its event
streams, so each of those requests ends after a fraction of a second instead of hanging the run.

The execution service's queue and state machines are recording fakes (as in tests/integration/api/):
executions are saved and announced, never run, so no generated workflow executes anything on this host.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.api import create_app
from orchestrator.domain.records import ExecutionStatus, StepExecutionRecord, StepStatus, utcnow
from orchestrator.services.execution_events import EventStreamOptions
from orchestrator.services.executions import ExecutionService
from orchestrator.services.notifier import ExecutionNotifier
from orchestrator.settings import Settings
from support.recording_ports import RecordingMachines, RecordingQueue

ADMIN_KEY = "ork_schemathesis-admin-key"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
#: generated requests per operation and pass (42 operations): about 2 x 1,000 requests in all
MAX_EXAMPLES = 25


def _definition(name: str) -> dict[str, Any]:
    step = {"type": "script", "config": {"runtime": "python", "code": "print('{}')"}}
    return {"version": "1.0", "name": name, "steps": [{"id": "fetch", **step},
                                                      {"id": "report", "depends_on": ["fetch"], **step}]}


def _seed(client: TestClient, store: SqliteStore) -> dict[str, list[str]]:
    """Records for every kind of path parameter, through the API as a client would make them."""

    def ok(response: Any) -> dict[str, Any]:
        assert response.status_code < 300, response.text
        return response.json()

    workflow = ok(client.post("/api/v1/workflows", json={"definition": _definition("seeded")}))["id"]
    template = ok(client.post("/api/v1/workflows", json={"definition": _definition("seeded-template"),
                                                         "is_template": True}))["id"]
    ok(client.post(f"/api/v1/workflows/{workflow}/activate"))
    trigger = ok(client.post(f"/api/v1/workflows/{workflow}/triggers", json={
        "type": "webhook", "config": {"path": "/hooks/seeded"}}))["id"]
    ended = ok(client.post(f"/api/v1/workflows/{workflow}/execute", json={"input": {"n": 1}}))["id"]
    running = ok(client.post(f"/api/v1/workflows/{workflow}/execute", json={"input": {"n": 2}}))["id"]
    # the engine's part, done on the store: both start, one ends with a succeeded step
    for execution_id in (ended, running):
        store.transition(execution_id, {ExecutionStatus.QUEUED}, ExecutionStatus.RUNNING, started_at=utcnow())
    step = store.upsert_step_execution(StepExecutionRecord(
        execution_id=ended, step_id="fetch", status=StepStatus.SUCCEEDED, attempt=1, output={"rows": 3},
        started_at=utcnow(), ended_at=utcnow()))
    store.transition(ended, {ExecutionStatus.RUNNING}, ExecutionStatus.COMPLETED, ended_at=utcnow())
    key = ok(client.post("/api/v1/api-keys", json={"owner_id": "alice"}))["id"]
    return {
        "workflow_id": [workflow, template],
        "execution_id": [ended, running],
        "step_execution_id": [step.id],
        "trigger_id": [trigger],
        "key_id": [key],
        "path": ["hooks/seeded"],
    }


def _app(store: SqliteStore) -> FastAPI:
    notifier = ExecutionNotifier()
    executions = ExecutionService(store, RecordingQueue(), RecordingMachines(), "WorkflowStateMachine", notifier)
    return create_app(store, executions, Settings(admin_api_key=ADMIN_KEY), notifier=notifier,
                      event_stream=EventStreamOptions(poll_seconds=0.05, settle_seconds=0.05, max_seconds=0.3))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, SqliteStore]]:
    store = SqliteStore(Path(tmp_path_factory.mktemp("schemathesis")) / "api.db")
    yield _app(store), store
    store.close()


@pytest.fixture(scope="module")
def existing(api: tuple[FastAPI, SqliteStore]) -> dict[str, Iterator[str]]:
    app, store = api
    with TestClient(app, headers=ADMIN) as client:
        seeded = _seed(client, store)
    return {name: itertools.cycle(values) for name, values in seeded.items()}


# The schema as the app publishes it at /openapi.json (it does not depend on the store). Loaded when the
# module is collected, so that each operation is a test of its own; the requests go to the ``api``
# fixture's app. (schemathesis.pytest.from_fixture would load it lazily, but its lazy mode sets the
# private Node._nodeid, which pytest 9.2 no longer has.)
schema = schemathesis.openapi.from_dict(_app(SqliteStore(":memory:")).openapi())

FUZZ_SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck))


@pytest.mark.slow
@schema.parametrize()
@FUZZ_SETTINGS
def test_no_request_makes_a_server_error(case: schemathesis.Case, api: tuple[FastAPI, SqliteStore]) -> None:
    # Given any request the schema allows or nearly allows, with the admin key
    # When it is sent
    # Then the answer is not a 5xx
    case.call_and_validate(app=api[0], headers=ADMIN, checks=[not_a_server_error])


@pytest.mark.slow
@schema.exclude(method="DELETE").parametrize()
@FUZZ_SETTINGS
def test_no_request_on_existing_records_makes_a_server_error(
    case: schemathesis.Case, api: tuple[FastAPI, SqliteStore], existing: dict[str, Iterator[str]],
) -> None:
    # Given a generated request whose path names records that exist
    for name in case.path_parameters or {}:
        if name in existing:
            case.path_parameters[name] = next(existing[name])
    # When it is sent
    # Then the answer is not a 5xx
    case.call_and_validate(app=api[0], headers=ADMIN, checks=[not_a_server_error])
