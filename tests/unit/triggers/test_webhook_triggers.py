"""Webhook triggers: the path finds the trigger, the HMAC signature authenticates, the body becomes the input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.records import TriggerType, WorkflowStatus
from orchestrator.services.trigger_errors import (
    InvalidTriggerConfig,
    InvalidWebhookPayload,
    WebhookMethodNotAllowed,
    WebhookNotFound,
    WebhookSecretUnavailable,
    WebhookUnauthorized,
)
from orchestrator.steps.webhook import sign
from support.triggers import (
    DictSecrets,
    SettableClock,
    TriggerWorld,
    a_trigger,
    a_workflow,
    build_world,
    json_body,
    signed_headers,
)

SECRET = "s3cret-shared-with-the-sender"
PAYLOAD = {"ref": "main", "commits": 3}


def now_seconds(world: TriggerWorld) -> int:
    return int(world.clock.now.timestamp())


def test_an_unsigned_webhook_starts_its_workflow_with_the_payload_as_input(world: TriggerWorld) -> None:
    # Given a webhook trigger without a secret
    trigger = a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/hooks/deploy"})
    # When a JSON body is posted to its path
    execution = world.service.receive_webhook("hooks/deploy", json_body(PAYLOAD), {"Content-Type": "application/json"})
    # Then the payload is the input of a new execution of the trigger, which counts it
    assert (execution.input, execution.trigger_id) == (PAYLOAD, trigger.id)
    assert world.queue.sent == [execution.id]
    stored = world.store.get_trigger(trigger.id)
    assert (stored.trigger_count, stored.last_triggered) == (1, world.clock.now)


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b"plain words", "text/plain", {"body": "plain words"}),
    (b"[1, 2]", "application/json", {"body": [1, 2]}),
    (b"", "", {}),
    (b"a=1&b=2", "application/x-www-form-urlencoded", {"body": "a=1&b=2"}),
])
def test_bodies_that_are_not_json_objects_are_wrapped(world: TriggerWorld, body: bytes, content_type: str,
                                                      expected: object) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/in"})
    assert world.service.receive_webhook("/in", body, {"Content-Type": content_type}).input == expected


def test_a_body_that_claims_json_but_is_not_is_refused(world: TriggerWorld) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/in"})
    with pytest.raises(InvalidWebhookPayload):
        world.service.receive_webhook("/in", b"{not json", {"Content-Type": "application/json; charset=utf-8"})
    assert world.executions() == []


def test_a_correctly_signed_request_is_accepted(world: TriggerWorld) -> None:
    # Given a webhook with a secret
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/signed", "secret": SECRET})
    body = json_body(PAYLOAD)
    # When the sender signs the body with the shared secret and the current time
    execution = world.service.receive_webhook("/signed", body, signed_headers(SECRET, body, now_seconds(world)))
    # Then it runs
    assert execution.input == PAYLOAD


def test_the_webhook_step_s_own_signature_is_accepted(world: TriggerWorld) -> None:
    # One orchestrator's webhook step calling another's webhook trigger: the same scheme end to end
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/signed", "secret": SECRET})
    timestamp = str(now_seconds(world))
    text = '{"from":"webhook step"}'
    headers = {"x-orchestrator-timestamp": timestamp, "x-orchestrator-signature": sign(SECRET, timestamp, text)}
    assert world.service.receive_webhook("/signed", text.encode(), headers).input == {"from": "webhook step"}


def test_a_secret_template_is_resolved_through_the_secrets_port(store: SqliteStore, clock: SettableClock) -> None:
    world = build_world(store, clock, secrets=DictSecrets({"github_hook": SECRET}))
    a_trigger(world, a_workflow(store), TriggerType.WEBHOOK, {"path": "/gh", "secret": "{{secrets.github_hook}}"})
    body = json_body(PAYLOAD)
    assert world.service.receive_webhook("/gh", body, signed_headers(SECRET, body, now_seconds(world))).input == PAYLOAD


@pytest.mark.parametrize("tamper", ["wrong secret", "changed body", "missing signature", "missing timestamp",
                                    "stale timestamp", "future timestamp", "timestamp not a number"])
def test_requests_that_fail_verification_are_refused(world: TriggerWorld, tamper: str) -> None:
    # Given a signed webhook
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/signed", "secret": SECRET})
    body = json_body(PAYLOAD)
    now = now_seconds(world)
    headers = signed_headers(SECRET, body, now)
    sent = body
    if tamper == "wrong secret":
        headers = signed_headers("guessed", body, now)
    elif tamper == "changed body":
        sent = json_body({**PAYLOAD, "commits": 4})
    elif tamper == "missing signature":
        del headers["X-Orchestrator-Signature"]
    elif tamper == "missing timestamp":
        del headers["X-Orchestrator-Timestamp"]
    elif tamper == "stale timestamp":  # a correct signature, replayed six minutes later
        headers = signed_headers(SECRET, body, now - 6 * 60)
    elif tamper == "future timestamp":
        headers = signed_headers(SECRET, body, now + 6 * 60)
    else:
        headers["X-Orchestrator-Timestamp"] = "yesterday"
    # When such a request arrives, Then it is refused and nothing runs
    with pytest.raises(WebhookUnauthorized):
        world.service.receive_webhook("/signed", sent, headers)
    assert world.executions() == []


def test_a_timestamp_within_the_tolerance_is_accepted(world: TriggerWorld) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/signed", "secret": SECRET})
    body = json_body(PAYLOAD)
    sent_at = world.clock.now - timedelta(minutes=4, seconds=50)
    assert world.service.receive_webhook("/signed", body, signed_headers(SECRET, body, int(sent_at.timestamp())))


def test_a_secret_that_cannot_be_resolved_fails_closed(world: TriggerWorld) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/gh", "secret": "{{secrets.absent}}"})
    body = json_body(PAYLOAD)
    with pytest.raises(WebhookSecretUnavailable):
        world.service.receive_webhook("/gh", body, signed_headers(SECRET, body, now_seconds(world)))
    assert world.executions() == []


def test_an_unknown_path_is_not_found(world: TriggerWorld) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/hooks/deploy"})
    with pytest.raises(WebhookNotFound):
        world.service.receive_webhook("/hooks/other", b"{}", {})


def test_the_path_matches_with_or_without_slashes_around_it(world: TriggerWorld) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/hooks/deploy/"})
    assert world.service.receive_webhook("hooks/deploy", b"{}", {}) is not None


def test_the_method_must_be_the_trigger_s(world: TriggerWorld) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/put-only", "method": "put"})
    with pytest.raises(WebhookMethodNotAllowed) as refused:
        world.service.receive_webhook("/put-only", b"{}", {}, method="POST")
    assert refused.value.details["allowed"] == ["PUT"]
    assert world.service.receive_webhook("/put-only", b"{}", {}, method="PUT") is not None


@pytest.mark.parametrize("status", [WorkflowStatus.PAUSED, WorkflowStatus.DRAFT])
def test_webhooks_of_inactive_workflows_do_not_listen(world: TriggerWorld, status: WorkflowStatus) -> None:
    a_trigger(world, a_workflow(world.store, status=status), TriggerType.WEBHOOK, {"path": "/quiet"})
    with pytest.raises(WebhookNotFound):
        world.service.receive_webhook("/quiet", b"{}", {})


def test_a_disabled_webhook_does_not_listen(world: TriggerWorld) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.WEBHOOK, {"path": "/off"}, is_enabled=False)
    with pytest.raises(WebhookNotFound):
        world.service.receive_webhook("/off", b"{}", {})


def test_two_enabled_webhooks_cannot_share_a_path_and_method(world: TriggerWorld) -> None:
    # Given a webhook at /shared on one workflow (even a paused one: it listens again on resume)
    a_trigger(world, a_workflow(world.store, status=WorkflowStatus.PAUSED), TriggerType.WEBHOOK, {"path": "/shared"})
    other = a_workflow(world.store)
    # When another workflow wants the same path and method, Then it is refused
    with pytest.raises(InvalidTriggerConfig, match="taken"):
        a_trigger(world, other, TriggerType.WEBHOOK, {"path": "/shared/"})
    # While another method on that path, or a disabled trigger, is fine
    assert a_trigger(world, other, TriggerType.WEBHOOK, {"path": "/shared", "method": "PUT"})
    assert a_trigger(world, other, TriggerType.WEBHOOK, {"path": "/shared"}, is_enabled=False)
