"""ApiFunction: API Gateway HTTP API events through Mangum into the FastAPI app."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from cloud_handler_support import context, event, load_handler
from moto import mock_aws

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.api import create_app
from orchestrator.api.auth import issue_api_key
from orchestrator.composition import factories
from orchestrator.composition import secrets as secrets_factory
from orchestrator.composition.store import close_stores, get_store
from orchestrator.domain.records import ExecutionRecord, WorkflowRecord, WorkflowStatus
from orchestrator.services.step_records import StepRecords
from orchestrator.settings import Settings, get_settings

api_function = load_handler("api")
BUCKET = "orchestrator-blobs-test"


def test_the_sample_event_lists_the_keys_owners_workflows_under_the_stage_path(store: SqliteStore) -> None:
    # Given a workflow of alice's, and the sample event (stage "dev") carrying alice's key
    store.create_workflow(WorkflowRecord(name="nightly", owner_id="alice", status="active"),
                          {"name": "nightly", "steps": [{"id": "a", "type": "condition",
                                                         "config": {"expression": "true"}}]})
    _, key = issue_api_key(store, "alice")
    request = event("api_list_workflows_event.json")
    request["headers"]["authorization"] = f"Bearer {key}"
    app = create_app(store, settings=Settings(admin_api_key=None))
    # When the function is invoked
    response = api_function.lambda_handler(request, context("orchestrator-api-dev"), app=app)
    # Then the /dev prefix was the stage's, not the app's, and the filter applied
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert [workflow["name"] for workflow in body["items"]] == ["nightly"]
    assert key not in response["body"]


def test_stage_base_path() -> None:
    assert api_function.stage_base_path({"requestContext": {"stage": "dev"}}) == "/dev"
    assert api_function.stage_base_path({"requestContext": {"stage": "$default"}}) == "/"
    assert api_function.stage_base_path({}) == "/"


def _forget_the_process_wiring() -> None:
    get_settings.cache_clear()
    factories.get_blobs.cache_clear()
    factories.get_step_runner_ports.cache_clear()
    secrets_factory.get_secret_vault.cache_clear()
    secrets_factory.get_secret_resolver.cache_clear()
    api_function._app.cache_clear()
    api_function._adapter.cache_clear()
    close_stores()


@pytest.fixture
def cloud_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment template.yaml gives the StepRunnerFunction and the ApiFunction (an in-memory store in
    place of MongoDB), with moto's S3 holding the BlobBucket."""
    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                        "ORCHESTRATOR_ENGINE": "aws", "ORCHESTRATOR_STORE": "memory",
                        "ORCHESTRATOR_BLOB_BUCKET": BUCKET, "ORCHESTRATOR_BLOB_THRESHOLD_BYTES": "1024"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("ORCHESTRATOR_ADMIN_KEY", raising=False)
    _forget_the_process_wiring()
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield
    _forget_the_process_wiring()


def test_a_step_output_kept_in_s3_is_read_back_by_the_api_the_function_builds(cloud_process: None) -> None:
    # Given alice's execution in the process's store
    store = get_store()
    workflow = store.create_workflow(
        WorkflowRecord(name="export", owner_id="alice", status=WorkflowStatus.ACTIVE),
        {"name": "export", "steps": [{"id": "fetch", "type": "condition", "config": {"expression": "true"}}]})
    execution = store.create_execution(ExecutionRecord(workflow_id=workflow.id, workflow_version=1, owner_id="alice"))
    _, key = issue_api_key(store, "alice")
    # And a step output above the blob threshold, recorded with the StepRunnerFunction's ports
    rows = [{"id": n, "name": f"row {n}"} for n in range(200)]
    ports = factories.get_step_runner_ports()
    StepRecords(ports.results, ports.blobs, execution.id, ports.inline_limit, ports.observer).put(
        "fetch", {"status": "succeeded", "attempt": 1, "output": {"rows": rows}})
    [step] = store.list_step_executions(execution.id)
    assert step.output is None
    assert step.output_ref == f"s3://{BUCKET}/{factories.BLOB_PREFIX}{execution.id}/fetch.json"
    # When the ApiFunction, with the app it builds itself (no store or services passed in), is asked for it
    request = event("api_list_workflows_event.json")
    path = f"/dev/api/v1/step-executions/{step.id}/output"
    request.update(rawPath=path, rawQueryString="", queryStringParameters=None,
                   pathParameters={"proxy": path.removeprefix("/dev/")})
    request["requestContext"]["http"]["path"] = path
    request["headers"]["authorization"] = f"Bearer {key}"
    response = api_function.lambda_handler(request, context("orchestrator-api-dev"))
    # Then the output was read from the blob bucket
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"]) == {"step_execution_id": step.id, "step_id": "fetch", "output": {"rows": rows}}
