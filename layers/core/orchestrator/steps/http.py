"""The ``http`` step: one HTTP request, its answer as ``{"status_code", "headers", "body"}`` (seed 002).

```yaml
type: http
config:
  method: POST                      # default GET
  url: "{{variables.api_endpoint}}"
  headers: {Authorization: "Bearer {{secrets.api_token}}"}
  query: {page: 2, tags: [a, b]}
  json: {name: x}                   # or body: "raw text" (not both)
  timeout: 30s                      # or seconds; the step's own timeout bounds it too
  follow_redirects: true
  accepted_status: ["2xx", 304]     # default 2xx; anything else fails the step as Http.<code>
  max_response_bytes: 10485760
```

Failures: ``Http.Timeout`` and ``Http.Connection`` (retryable), ``Http.<status>`` (retryable for 408,
425, 429 and 5xx but 501/505; it carries ``retry_after`` and the response as ``output``),
``Http.Request`` / ``Http.ResponseTooLarge`` and ``Egress.Denied`` (not retryable).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from orchestrator.domain.durations import Duration
from orchestrator.steps.base import StepConfig, StepContext, StepResult
from orchestrator.steps.egress import EgressBoundExecutor
from orchestrator.steps.http_client import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AcceptedStatus,
    Scalar,
    header_texts,
    perform,
    step_call,
    validate_http_url,
    where,
)

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
DEFAULT_TIMEOUT_SECONDS = 30.0


class HttpConfig(StepConfig):
    method: HttpMethod = "GET"
    url: str
    headers: dict[str, Scalar] = Field(default_factory=dict)
    query: dict[str, Scalar | list[Scalar] | None] = Field(default_factory=dict)
    # "json" would shadow BaseModel.json(); the YAML key stays "json" through the alias.
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    timeout: Duration = DEFAULT_TIMEOUT_SECONDS
    follow_redirects: bool = True
    accepted_status: AcceptedStatus = Field(default_factory=lambda: ["2xx"])
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, gt=0)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return validate_http_url(value)

    @model_validator(mode="after")
    def _one_body(self) -> HttpConfig:
        if "json_body" in self.model_fields_set and self.body is not None:
            raise ValueError("set either json or body, not both")
        return self


class HttpExecutor(EgressBoundExecutor):
    type_name: ClassVar[str] = "http"
    config_model: ClassVar[type[BaseModel]] = HttpConfig

    def execute(self, config: HttpConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        started = time.time()
        policy = self.egress_policy()
        call = step_call(
            config,
            ctx,
            prefix="Http",
            method=config.method,
            default_timeout=DEFAULT_TIMEOUT_SECONDS,
            headers=header_texts(config.headers),
            params={k: v for k, v in config.query.items() if v is not None} or None,
            content=config.body,
            json_body=config.json_body,
            send_json="json_body" in config.model_fields_set,
        )
        output = perform(call, policy)
        ctx.log(f"{where(config.method, config.url)} answered {output['status_code']}")
        return StepResult(output=output, started_at=started, finished_at=time.time())
