"""The ``webhook`` step: POST a signed JSON payload to a receiver.

```yaml
type: webhook
config:
  url: https://hooks.example.com/deploys
  secret: "{{secrets.deploy_hook_secret}}"
  payload: {service: api, version: "{{steps.build.output.version}}"}   # default: the step's inputs
  event: deploy.finished            # optional, sent as X-Orchestrator-Event
  headers: {X-Team: platform}
  timeout: 10s
  accepted_status: ["2xx"]
  follow_redirects: false           # a redirected POST rarely means what the receiver wants
```

What the receiver gets, and how it checks it:

- the body: the payload as compact UTF-8 JSON;
- ``X-Orchestrator-Timestamp``: Unix seconds when this attempt was sent;
- ``X-Orchestrator-Signature``: ``sha256=`` + hex HMAC-SHA256 with the shared secret over
  ``f"{timestamp}.{body}"``. The receiver recomputes it over the raw body it received, compares in
  constant time, and rejects old timestamps (replays);
- ``Idempotency-Key``: the same for every attempt of the same step in the same execution (and loop
  iteration), so a receiver can drop the duplicate that a retry after a lost answer produces.

Failures are classified like the ``http`` step's, named ``Webhook.*``; ``Egress.Denied`` likewise.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SecretStr, field_validator

from orchestrator.domain.durations import Duration
from orchestrator.steps.base import StepConfig, StepContext, StepError, StepResult
from orchestrator.steps.egress import EgressBoundExecutor
from orchestrator.steps.http_client import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AcceptedStatus,
    Scalar,
    header_texts,
    perform,
    step_call,
    validate_http_url,
)

SIGNATURE_HEADER = "X-Orchestrator-Signature"
TIMESTAMP_HEADER = "X-Orchestrator-Timestamp"
EVENT_HEADER = "X-Orchestrator-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TIMEOUT_SECONDS = 10.0

#: fixed namespace: the same execution/step/iteration gives the same key on every machine, forever
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6b1f4f0e-9d53-5c55-a1c4-0b9a3e0f7d21")
_RESERVED_HEADERS = {h.lower() for h in (SIGNATURE_HEADER, TIMESTAMP_HEADER, IDEMPOTENCY_HEADER, "content-type")}


def sign(secret: str, timestamp: str, body: str) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with ``secret`` over ``f"{timestamp}.{body}"``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def idempotency_key(ctx: StepContext) -> str:
    """Derived from what identifies this step execution, never from the attempt number. Inside a loop
    the step runner gives the full key as the step id ("notify[3].post"), so iterations differ."""
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{ctx.execution_id}\x1f{ctx.step_id}"))


class WebhookConfig(StepConfig):
    url: str
    secret: SecretStr = Field(min_length=1)
    payload: Any = None
    event: str | None = None
    headers: dict[str, Scalar] = Field(default_factory=dict)
    timeout: Duration = DEFAULT_TIMEOUT_SECONDS
    follow_redirects: bool = False
    accepted_status: AcceptedStatus = Field(default_factory=lambda: ["2xx"])
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return validate_http_url(value)

    @field_validator("headers")
    @classmethod
    def _no_reserved(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        clash = sorted(name for name in value if name.lower() in _RESERVED_HEADERS)
        if clash:
            raise ValueError(f"headers {clash} are set by the webhook step itself")
        return value


class WebhookExecutor(EgressBoundExecutor):
    type_name: ClassVar[str] = "webhook"
    config_model: ClassVar[type[BaseModel]] = WebhookConfig

    def execute(self, config: WebhookConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        started = time.time()
        payload = config.payload if "payload" in config.model_fields_set else inputs
        try:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise StepError("Webhook.InvalidPayload", f"the payload is not JSON: {exc}", retryable=False) from None
        secret = config.secret.get_secret_value()
        timestamp = str(int(started))
        key = idempotency_key(ctx)
        headers = {
            **header_texts(config.headers),
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            IDEMPOTENCY_HEADER: key,
        }
        if config.event:
            headers[EVENT_HEADER] = config.event
        call = step_call(
            config,
            ctx,
            prefix="Webhook",
            method="POST",
            default_timeout=DEFAULT_TIMEOUT_SECONDS,
            headers=headers,
            content=body.encode(),
            secrets=[secret],
        )
        output = perform(call, self.egress_policy())
        ctx.log(f"webhook delivered (attempt {ctx.attempt}, idempotency key {key}): {output['status_code']}")
        return StepResult(output={**output, "idempotency_key": key}, started_at=started, finished_at=time.time())
