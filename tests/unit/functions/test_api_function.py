"""ApiFunction: API Gateway HTTP API events through Mangum into the FastAPI app."""

from __future__ import annotations

import json

from cloud_handler_support import context, event, load_handler

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.api import create_app
from orchestrator.api.auth import issue_api_key
from orchestrator.domain.records import WorkflowRecord
from orchestrator.settings import Settings

api_function = load_handler("api")


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
