"""The webhook step against a real receiver on 127.0.0.1 that verifies signatures as documented."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from orchestrator.settings import Settings
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.registry import get_executor
from orchestrator.steps.webhook import WebhookConfig, WebhookExecutor
from support.local_http import LocalHttpServer, Recorded, Reply

SECRET = "whsec-9f8e7d6c5b4a"


def verifying_receiver(secret: str, max_age: float = 300) -> callable:
    """What a receiver does: recompute the HMAC over timestamp + raw body, compare in constant time."""

    def handle(req: Recorded) -> Reply:
        timestamp = req.headers.get("x-orchestrator-timestamp", "")
        expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + req.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, req.headers.get("x-orchestrator-signature", "")):
            return Reply(401, json_body={"error": "bad signature"})
        if abs(time.time() - int(timestamp)) > max_age:
            return Reply(401, json_body={"error": "stale"})
        return Reply(200, json_body={"accepted": req.json()})

    return handle


def run(config: dict, inputs: dict | None = None, ctx: StepContext | None = None):
    executor = WebhookExecutor(Settings(egress_allow_private=True))  # the receiver is on 127.0.0.1
    return executor.execute(WebhookConfig.model_validate(config), inputs or {}, ctx or StepContext("exec-7", "notify"))


def test_registry_serves_the_webhook_executor():
    assert isinstance(get_executor("webhook"), WebhookExecutor)


def test_signed_payload_is_accepted_by_a_verifying_receiver(local_http: LocalHttpServer):
    # Given a receiver that checks signatures with the shared secret
    local_http.route("POST", "/hook", verifying_receiver(SECRET))
    # When the step posts a payload with an event name
    result = run({"url": local_http.url("/hook"), "secret": SECRET, "payload": {"deploy": "api", "ok": True, "ü": "ß"},
                  "event": "deploy.finished"})
    # Then the receiver verified it and got the payload as JSON
    assert result.output["status_code"] == 200
    assert result.output["body"] == {"accepted": {"deploy": "api", "ok": True, "ü": "ß"}}
    sent = local_http.requests_to("/hook")[0]
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-orchestrator-event"] == "deploy.finished"
    assert sent.headers["x-orchestrator-signature"].startswith("sha256=")


def test_wrong_secret_fails_verification_and_is_not_retryable(local_http: LocalHttpServer):
    # Given a receiver with another secret / When the step posts / Then 401, not retryable
    local_http.route("POST", "/hook", verifying_receiver("another-secret"))
    with pytest.raises(StepError) as caught:
        run({"url": local_http.url("/hook"), "secret": SECRET, "payload": {}})
    assert (caught.value.error, caught.value.retryable) == ("Webhook.401", False)
    # And the secret itself appears nowhere in the error
    assert SECRET not in caught.value.cause and SECRET not in json.dumps(caught.value.output)


def test_payload_defaults_to_the_step_inputs(local_http: LocalHttpServer):
    # Given no payload in the config / When run with inputs / Then the inputs are the payload
    local_http.route("POST", "/hook", verifying_receiver(SECRET))
    result = run({"url": local_http.url("/hook"), "secret": SECRET}, inputs={"order": 42})
    assert result.output["body"] == {"accepted": {"order": 42}}


def test_idempotency_key_is_stable_across_attempts_and_distinct_per_step(local_http: LocalHttpServer):
    # Given a receiver that fails the first delivery with 503
    answers = iter([Reply(503, headers={"Retry-After": "2"}), Reply(200)])
    local_http.route("POST", "/hook", lambda req: next(answers))
    config = {"url": local_http.url("/hook"), "secret": SECRET, "payload": {"n": 1}}
    # When attempt 1 fails (retryable, with retry_after) and attempt 2 succeeds
    with pytest.raises(StepError) as caught:
        run(config, ctx=StepContext("exec-7", "notify", attempt=1))
    assert (caught.value.error, caught.value.retryable, caught.value.retry_after) == ("Webhook.503", True, 2.0)
    result = run(config, ctx=StepContext("exec-7", "notify", attempt=2))
    # Then both deliveries carried the same Idempotency-Key, which the output reports
    keys = [req.headers["idempotency-key"] for req in local_http.requests_to("/hook")]
    assert keys[0] == keys[1] == result.output["idempotency_key"]
    # And another step, execution or loop iteration gets another key
    local_http.route("POST", "/hook", Reply(200))
    other_step = run(config, ctx=StepContext("exec-7", "notify-2")).output["idempotency_key"]
    other_exec = run(config, ctx=StepContext("exec-8", "notify")).output["idempotency_key"]
    # (inside loops the step runner names the step by its full key, one per iteration)
    in_loop = run(config, ctx=StepContext("exec-7", "fan[3].notify")).output["idempotency_key"]
    assert len({keys[0], other_step, other_exec, in_loop}) == 4


def test_reserved_headers_cannot_be_overridden():
    # Given a config that tries to set the signature header / When validated / Then refused
    with pytest.raises(ValueError, match="set by the webhook step"):
        WebhookConfig.model_validate({"url": "http://127.0.0.1/h", "secret": SECRET,
                                      "headers": {"X-Orchestrator-Signature": "sha256=forged"}})


def test_secret_is_required_and_hidden_in_reprs():
    # Given a config without a secret / Then invalid; with one / Then its repr does not show it
    with pytest.raises(ValueError):
        WebhookConfig.model_validate({"url": "http://127.0.0.1/h"})
    assert SECRET not in repr(WebhookConfig.model_validate({"url": "http://127.0.0.1/h", "secret": SECRET}))
