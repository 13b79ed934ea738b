"""The inbound HTTP routes: /webhooks/{path} and POST /api/v1/events, their statuses and error bodies."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient

from orchestrator.api.routers.inbound import create_inbound_router
from orchestrator.domain.records import TriggerType
from support.triggers import TriggerWorld, a_trigger, a_workflow, json_body, signed_headers

SECRET = "router-secret"
KEYS = {"key-alice": "alice", "key-admin": None}


def api_key_scope(x_api_key: str = Header("")) -> str | None:
    """Stands in for the app's API-key dependency: the key's owner, None for an admin key."""
    if x_api_key not in KEYS:
        raise HTTPException(401, "bad key")
    return KEYS[x_api_key]


@pytest.fixture
def client(world: TriggerWorld) -> TestClient:
    app = FastAPI()
    app.include_router(create_inbound_router(event_scope=api_key_scope, trigger_service=lambda: world.service,
                                             max_body_bytes=2048))
    return TestClient(app)


def error_of(response) -> tuple[int, str]:
    body = response.json()
    assert set(body["error"]) == {"code", "message", "details"}
    return response.status_code, body["error"]["code"]


def test_a_signed_webhook_is_accepted_with_its_execution_id(world: TriggerWorld, client: TestClient) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/hooks/deploy", "secret": SECRET})
    body = json_body({"ref": "main"})
    response = client.post("/webhooks/hooks/deploy", content=body,
                           headers=signed_headers(SECRET, body, int(world.clock.now.timestamp())))
    assert response.status_code == 202
    [execution] = world.executions()
    assert response.json() == {"execution_id": execution.id}
    assert execution.input == {"ref": "main"}


def test_webhook_refusals_have_the_api_s_error_shape(world: TriggerWorld, client: TestClient) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/signed", "secret": SECRET})
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/put-only", "method": "PUT"})
    assert error_of(client.post("/webhooks/signed", content=b"{}")) == (401, "invalid_signature")
    assert error_of(client.post("/webhooks/nowhere", content=b"{}")) == (404, "not_found")
    refused = client.post("/webhooks/put-only", content=b"{}")
    assert error_of(refused) == (405, "method_not_allowed") and refused.headers["allow"] == "PUT"
    assert error_of(client.put("/webhooks/put-only", content=b"{x", headers={"Content-Type": "application/json"})
                    ) == (400, "invalid_payload")
    assert world.executions() == []


def test_a_body_over_the_limit_is_refused_before_anything_else(world: TriggerWorld, client: TestClient) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/big"})
    assert error_of(client.post("/webhooks/big", content=b"x" * 4096)) == (413, "payload_too_large")


def test_an_event_is_published_with_an_api_key(world: TriggerWorld, client: TestClient) -> None:
    # Given an order trigger of alice's and one of bob's
    mine = a_trigger(world, a_workflow(world.store, owner_id="alice"), TriggerType.EVENT,
                     {"pattern": {"source": ["shop"]}})
    a_trigger(world, a_workflow(world.store, owner_id="bob"), TriggerType.EVENT, {"pattern": {"source": ["shop"]}})
    event = {"source": "shop", "detail-type": "order.created", "detail": {"id": 1}}
    # When alice publishes an event, Then only her trigger fires
    response = client.post("/api/v1/events", json=event, headers={"X-Api-Key": "key-alice"})
    assert response.status_code == 202
    body = response.json()
    assert body["matched"] == 1
    assert [(e["trigger_id"], e["status"]) for e in body["executions"]] == [(mine.id, "queued")]
    # And an admin key's event reaches every owner's triggers
    assert client.post("/api/v1/events", json=event, headers={"X-Api-Key": "key-admin"}).json()["matched"] == 2


def test_event_refusals(world: TriggerWorld, client: TestClient) -> None:
    assert client.post("/api/v1/events", json={}, headers={"X-Api-Key": "nope"}).status_code == 401
    assert error_of(client.post("/api/v1/events", content=b"{", headers={"X-Api-Key": "key-alice"})
                    ) == (400, "invalid_json")
    refused = client.post("/api/v1/events", json={"detail": {}}, headers={"X-Api-Key": "key-alice"})
    assert error_of(refused) == (400, "invalid_event")
    assert len(refused.json()["error"]["details"]["problems"]) == 2
