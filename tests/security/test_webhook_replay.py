"""Webhooks under attack (issue 7): replayed signed requests, foreign trigger ids, secrets read back.

The API runs as in tests/integration/api (a real SQLite store, the real services, recording fakes at the
queue); "two processes of the API" are two apps on the same database file, as the local server and the
Lambda functions share one store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from integration.api.api_harness import Api, definition, make_api

from orchestrator.adapters.sqlite import SqliteStore
from support.triggers import json_body, signed_headers

SECRET = "hunter2-literal-secret"
PATH = "/hooks/deploy"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "api.db"


def _api_on(db_path: Path) -> Iterator[Api]:
    store = SqliteStore(db_path)
    made = make_api(store)
    with made.client:
        yield made
    store.close()


@pytest.fixture
def api(db_path: Path) -> Iterator[Api]:
    yield from _api_on(db_path)


@pytest.fixture
def other_api_process(db_path: Path) -> Iterator[Api]:
    """A second API on the same database: what another process (or Lambda instance) would be."""
    yield from _api_on(db_path)


def signed_webhook(api: Api, owner: str = "alice", path: str = PATH) -> dict[str, Any]:
    workflow = api.create_workflow(owner, definition=definition(triggers=[
        {"type": "webhook", "name": "deploy", "config": {"path": path, "secret": SECRET}}]))
    assert api.client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=api.as_owner(owner)
                           ).status_code == 200
    return workflow


def a_signed_request(payload: Any) -> tuple[bytes, dict[str, str]]:
    body = json_body(payload)
    return body, signed_headers(SECRET, body, int(time.time()))


# --- replays -------------------------------------------------------------------------------------------------


def test_a_replayed_signed_request_starts_no_second_execution(api: Api) -> None:
    # Given a signed webhook, and one request that was accepted
    workflow = signed_webhook(api)
    body, headers = a_signed_request({"ref": "main"})
    first = api.client.post(f"/webhooks{PATH}", content=body, headers=headers)
    assert first.status_code == 202, first.text
    # When the very same request is sent again within its 5-minute window
    replay = api.client.post(f"/webhooks{PATH}", content=body, headers=headers)
    # Then it is refused as a replay, naming the first delivery's execution
    assert replay.status_code == 409, replay.text
    error = replay.json()["error"]
    assert error["code"] == "webhook_replayed"
    assert error["details"]["execution_id"] == first.json()["execution_id"]
    # And there is one execution, not two
    assert [e.id for e in api.store.list_executions(workflow_id=workflow["id"]).items] == [first.json()["execution_id"]]


def test_a_replay_through_another_api_process_is_refused_too(api: Api, other_api_process: Api) -> None:
    # Given a delivery accepted by one API process
    workflow = signed_webhook(api)
    body, headers = a_signed_request({"ref": "v1"})
    assert api.client.post(f"/webhooks{PATH}", content=body, headers=headers).status_code == 202
    # When it is replayed to another process sharing the store
    replay = other_api_process.client.post(f"/webhooks{PATH}", content=body, headers=headers)
    # Then that one refuses it as well
    assert replay.status_code == 409, replay.text
    assert len(api.store.list_executions(workflow_id=workflow["id"]).items) == 1


def test_simultaneous_copies_of_one_request_start_one_execution(api: Api, other_api_process: Api) -> None:
    # Given a signed webhook
    workflow = signed_webhook(api)
    body, headers = a_signed_request({"ref": "race"})
    clients = [api.client, other_api_process.client] * 4
    # When eight copies of one request arrive at once, on two processes
    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = list(pool.map(lambda client: client.post(f"/webhooks{PATH}", content=body, headers=headers
                                                            ).status_code, clients))
    # Then exactly one is accepted and the others are replays
    assert sorted(statuses) == [202] + [409] * 7
    assert len(api.store.list_executions(workflow_id=workflow["id"]).items) == 1


def test_new_deliveries_are_not_replays(api: Api) -> None:
    # Given a signed webhook
    workflow = signed_webhook(api)
    # When two different payloads are signed and sent, Then both start an execution
    for ref in ("a", "b"):
        body, headers = a_signed_request({"ref": ref})
        assert api.client.post(f"/webhooks{PATH}", content=body, headers=headers).status_code == 202
    assert len(api.store.list_executions(workflow_id=workflow["id"]).items) == 2


def test_a_delivery_that_started_nothing_may_be_retried(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a signed webhook whose first delivery fails while starting the execution (the store hiccups)
    workflow = signed_webhook(api)
    submit = api.executions.submit
    calls = []

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("the store hiccuped")
        return submit(*args, **kwargs)

    monkeypatch.setattr(api.executions, "submit", fails_once)
    body, headers = a_signed_request({"ref": "retry"})
    assert api.client.post(f"/webhooks{PATH}", content=body, headers=headers).status_code == 500
    # When the sender retries the same request, Then it is accepted: the failed delivery claimed nothing
    assert api.client.post(f"/webhooks{PATH}", content=body, headers=headers).status_code == 202
    assert len(api.store.list_executions(workflow_id=workflow["id"]).items) == 1


def test_webhook_refusals_name_no_trigger_or_workflow_id(api: Api) -> None:
    # Given a signed webhook whose trigger was disabled (the workflow still active)
    workflow = signed_webhook(api)
    headers = api.as_owner("alice")
    [trigger] = api.client.get(f"/api/v1/workflows/{workflow['id']}/triggers", headers=headers).json()["items"]
    # When unauthenticated callers hit it with a bad signature or no signature
    body, signed = a_signed_request({"ref": "x"})
    answers = [
        api.client.post(f"/webhooks{PATH}", content=body),
        api.client.post(f"/webhooks{PATH}", content=body, headers={**signed, "X-Orchestrator-Signature": "sha256=00"}),
        api.client.get(f"/webhooks{PATH}"),
    ]
    # Then no answer carries an id of alice's
    for answer in answers:
        assert 400 <= answer.status_code < 500
        assert trigger["id"] not in answer.text and workflow["id"] not in answer.text


# --- foreign ids ----------------------------------------------------------------------------------------------


def test_a_webhook_path_taken_by_another_owner_reveals_no_id(api: Api) -> None:
    # Given bob's webhook at /hooks/shared
    bobs = signed_webhook(api, "bob", "/hooks/shared")
    [bobs_trigger] = api.client.get(f"/api/v1/workflows/{bobs['id']}/triggers", headers=api.as_owner("bob")
                                    ).json()["items"]
    # When alice asks for the same path, in a trigger and in a workflow file
    mine = api.create_workflow("alice")
    answers = [
        api.client.post(f"/api/v1/workflows/{mine['id']}/triggers", headers=api.as_owner("alice"),
                        json={"type": "webhook", "config": {"path": "/hooks/shared"}}),
        api.client.post("/api/v1/workflows", headers=api.as_owner("alice"), json={"definition": definition(
            name="clash", triggers=[{"type": "webhook", "config": {"path": "/hooks/shared"}}])}),
    ]
    for answer in answers:
        # Then the conflict is reported where she wrote the path
        assert answer.status_code == 422, answer.text
        assert "is taken by another webhook trigger" in answer.text
        # And nothing of bob's is in it: neither his trigger's id nor his workflow's
        assert bobs_trigger["id"] not in answer.text and bobs["id"] not in answer.text


# --- secrets ---------------------------------------------------------------------------------------------------


def test_a_webhook_secret_is_write_only_in_workflows_and_versions(api: Api) -> None:
    # Given a workflow whose webhook trigger has a literal secret, then a second version
    workflow = signed_webhook(api)
    headers = api.as_owner("alice")
    read = api.client.get(f"/api/v1/workflows/{workflow['id']}", headers=headers).json()
    updated = api.client.put(f"/api/v1/workflows/{workflow['id']}", headers=headers,
                             json={"definition": {**read["definition"], "description": "v2"}})
    assert updated.status_code == 200, updated.text
    # When the workflow, its versions and its triggers are read
    readings = [
        workflow,  # the creation's answer
        updated.json(),
        api.client.get(f"/api/v1/workflows/{workflow['id']}", headers=headers).json(),
        api.client.get(f"/api/v1/workflows/{workflow['id']}/versions/1", headers=headers).json(),
        api.client.get(f"/api/v1/workflows/{workflow['id']}/versions/2", headers=headers).json(),
        api.client.get(f"/api/v1/workflows/{workflow['id']}/triggers", headers=headers).json(),
        api.client.get(f"/api/v1/workflows/{workflow['id']}/status", headers=headers).json(),
    ]
    # Then the secret appears in none of them (masked as "***")
    for reading in readings:
        assert SECRET not in str(reading)
    assert readings[2]["definition"]["triggers"][0]["config"]["secret"] == "***"
    # And the definition sent back with its mask kept the stored secret: signed requests still verify
    body, signed = a_signed_request({"after": "update"})
    assert api.client.post(f"/webhooks{PATH}", content=body, headers=signed).status_code == 202


def test_a_mask_with_no_stored_secret_behind_it_is_refused(api: Api) -> None:
    # When a definition copied from a read (secret "***") is used for a new workflow
    response = api.client.post("/api/v1/workflows", headers=api.as_owner("alice"), json={"definition": definition(
        triggers=[{"type": "webhook", "config": {"path": "/hooks/copied", "secret": "***"}}])})
    # Then it is refused rather than saved with the secret "***"
    assert response.status_code == 422
    [problem] = response.json()["error"]["details"]["problems"]
    assert problem["location"] == "definition.triggers[0].config.secret"


def test_a_trigger_config_sent_back_with_its_mask_keeps_the_stored_secret(api: Api) -> None:
    # Given a signed webhook's trigger, as read (secret masked)
    workflow = signed_webhook(api)
    headers = api.as_owner("alice")
    [trigger] = api.client.get(f"/api/v1/workflows/{workflow['id']}/triggers", headers=headers).json()["items"]
    assert trigger["config"]["secret"] == "***"
    # When that config is sent back in an update
    updated = api.client.put(f"/api/v1/triggers/{trigger['id']}", headers=headers,
                             json={"name": "renamed", "config": trigger["config"]})
    assert updated.status_code == 200, updated.text
    # Then the secret is still the stored one: a request signed with it is accepted
    body, signed = a_signed_request({"after": "rename"})
    assert api.client.post(f"/webhooks{PATH}", content=body, headers=signed).status_code == 202
