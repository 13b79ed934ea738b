"""API keys: who may call, what each key sees (its owner's records only), how keys are issued and revoked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from api_harness import ADMIN_KEY, Api, definition

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.api.auth import ADMIN_OWNER_ID, KEY_PREFIX, ensure_admin_key
from orchestrator.domain.records import StepExecutionRecord
from orchestrator.settings import Settings


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer ork_not-a-key"},
    {"X-API-Key": "ork_not-a-key"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
])
def test_a_missing_or_unknown_key_is_401_in_the_error_shape(api: Api, headers: dict[str, str]) -> None:
    # When the API is called without a valid key
    response = api.client.get("/api/v1/workflows", headers=headers)
    # Then 401, with the error shape and a challenge, and the presented key not echoed
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "ork_not-a-key" not in response.text


def test_health_metrics_and_docs_need_no_key(api: Api) -> None:
    for path in ("/health", "/metrics", "/docs", "/openapi.json"):
        assert api.client.get(path).status_code == 200, path


def test_another_owners_records_are_not_found_and_admin_sees_all(api: Api) -> None:
    # Given alice's workflow, trigger, execution and step execution
    workflow = api.create_workflow(owner="alice")
    trigger = api.client.post(f"/api/v1/workflows/{workflow['id']}/triggers", headers=api.as_owner("alice"),
                              json={"type": "manual", "name": "by hand"}).json()
    execution = api.execute(workflow["id"], owner="alice")
    step = api.store.upsert_step_execution(_step(execution["id"]))
    alice_urls = [
        f"/api/v1/workflows/{workflow['id']}",
        f"/api/v1/workflows/{workflow['id']}/versions",
        f"/api/v1/workflows/{workflow['id']}/status",
        f"/api/v1/workflows/{workflow['id']}/statistics",
        f"/api/v1/workflows/{workflow['id']}/triggers",
        f"/api/v1/triggers/{trigger['id']}",
        f"/api/v1/executions/{execution['id']}",
        f"/api/v1/executions/{execution['id']}/logs",
        f"/api/v1/executions/{execution['id']}/events",
        f"/api/v1/step-executions/{step.id}",
        f"/api/v1/step-executions/{step.id}/output",
    ]
    bob = api.as_owner("bob")
    # Then bob gets 404 for each of them, exactly as for ids that do not exist
    for url in alice_urls:
        response = api.client.get(url, headers=bob)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    # And cannot change them either
    for method, url, body in [
        ("PUT", f"/api/v1/workflows/{workflow['id']}", {"name": "mine now"}),
        ("DELETE", f"/api/v1/workflows/{workflow['id']}", None),
        ("POST", f"/api/v1/workflows/{workflow['id']}/activate", None),
        ("POST", f"/api/v1/workflows/{workflow['id']}/execute", {}),
        ("POST", f"/api/v1/workflows/{workflow['id']}/triggers", {"type": "manual"}),
        ("PUT", f"/api/v1/triggers/{trigger['id']}", {"is_enabled": False}),
        ("DELETE", f"/api/v1/triggers/{trigger['id']}", None),
        ("POST", f"/api/v1/executions/{execution['id']}/cancel", None),
        ("POST", f"/api/v1/step-executions/{step.id}/retry", None),
    ]:
        response = api.client.request(method, url, json=body, headers=bob)
        assert response.status_code == 404, (method, url)
    assert api.store.get_workflow(workflow["id"]).name == workflow["name"]
    # And bob's lists do not show them
    assert api.client.get("/api/v1/workflows", headers=bob).json()["items"] == []
    assert api.client.get("/api/v1/executions", headers=bob).json()["items"] == []
    assert api.client.get("/api/v1/executions", params={"workflow_id": workflow["id"]}, headers=bob).json()["items"] == []
    # While the admin key sees and lists everything
    for url in alice_urls[:-3]:
        assert api.client.get(url, headers=api.admin).status_code == 200, url
    assert len(api.client.get("/api/v1/executions", headers=api.admin).json()["items"]) == 1


def test_only_an_admin_creates_for_another_owner(api: Api) -> None:
    # When alice's key tries to create a workflow for bob
    refused = api.client.post("/api/v1/workflows", headers=api.as_owner("alice"),
                              json={"definition": definition("for bob"), "owner_id": "bob"})
    # Then it is refused; the admin key may
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    created = api.client.post("/api/v1/workflows", headers=api.admin,
                              json={"definition": definition("for bob"), "owner_id": "bob"})
    assert created.status_code == 201 and created.json()["owner_id"] == "bob"
    assert api.client.get(f"/api/v1/workflows/{created.json()['id']}", headers=api.as_owner("bob")).status_code == 200


def test_admin_issues_keys_which_are_stored_hashed_and_shown_once(api: Api) -> None:
    # When the admin issues a key for carol
    response = api.client.post("/api/v1/api-keys", json={"owner_id": "carol"}, headers=api.admin)
    # Then the key is returned once, and only its hash and prefix are stored
    assert response.status_code == 201, response.text
    issued = response.json()
    key = issued["key"]
    assert key.startswith(KEY_PREFIX) and len(key) > 40 and issued["prefix"] == key[: len(issued["prefix"])]
    [stored] = api.store.list_api_keys("carol")
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    listed = api.client.get("/api/v1/api-keys", params={"owner_id": "carol"}, headers=api.admin).json()
    assert [k["id"] for k in listed["items"]] == [issued["id"]] and "key" not in listed["items"][0]
    # And the key works, by either header
    assert api.client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert api.client.get("/api/v1/workflows", headers={"X-API-Key": key}).status_code == 200
    # And a non-admin key may not issue keys, nor list another owner's
    carol = {"X-API-Key": key}
    assert api.client.post("/api/v1/api-keys", json={"owner_id": "carol"}, headers=carol).status_code == 403
    assert api.client.get("/api/v1/api-keys", params={"owner_id": "alice"}, headers=carol).json()["items"] == []


def test_a_revoked_key_stops_working_at_once(api: Api) -> None:
    # Given two keys of carol's
    first = api.client.post("/api/v1/api-keys", json={"owner_id": "carol"}, headers=api.admin).json()
    second = api.client.post("/api/v1/api-keys", json={"owner_id": "carol"}, headers=api.admin).json()
    # When carol revokes the first with the second
    carol = {"X-API-Key": second["key"]}
    assert api.client.delete(f"/api/v1/api-keys/{first['id']}", headers=carol).status_code == 204
    # Then the first is refused, and others' keys cannot be revoked by carol
    assert api.client.get("/api/v1/workflows", headers={"X-API-Key": first["key"]}).status_code == 401
    alice = api.as_owner("alice")
    [alice_record] = api.store.list_api_keys("alice")
    assert api.client.delete(f"/api/v1/api-keys/{alice_record.id}", headers=carol).status_code == 404
    assert api.client.get("/api/v1/workflows", headers=alice).status_code == 200


def test_events_api_is_scoped_to_the_key(api: Api) -> None:
    # The inbound router (events) authenticates with the same keys
    assert api.client.post("/api/v1/events", json={"source": "x"}).status_code == 401


def test_ensure_admin_key_creates_one_on_first_start_only(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "keys.db")
    try:
        # Given no configured admin key, the first start creates one and returns it
        key = ensure_admin_key(store, Settings(admin_api_key=None))
        assert key is not None and key.startswith(KEY_PREFIX)
        [record] = store.list_api_keys(ADMIN_OWNER_ID)
        assert record.is_admin and record.key_hash != key
        # Then later starts create none, and a configured key makes one unnecessary
        assert ensure_admin_key(store, Settings(admin_api_key=None)) is None
        assert ensure_admin_key(SqliteStore.in_memory(), Settings(admin_api_key=ADMIN_KEY)) is None
    finally:
        store.close()


def _step(execution_id: str) -> StepExecutionRecord:
    return StepExecutionRecord(execution_id=execution_id, step_id="fetch", status="succeeded", output={"rows": 3})
