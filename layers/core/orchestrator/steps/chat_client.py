"""An OpenAI-compatible chat-completions client over httpx, shared by the ``llm`` and ``agent`` executors.

Requests go through the ``http`` step's client (``http_client.perform``): the same egress policy,
connection pool, response size cap and error classification (``Llm.429``, ``Agent.Timeout``, ...).
On top it owns what both chat executors need the same way: the endpoint URL, the Bearer key (never logged, scrubbed from
errors), per-call timeouts bounded by the step's deadline, and a small in-step retry of rate limits and
server errors that honours ``Retry-After``. LLM APIs answer 429 routinely under load; waiting the few
seconds the server asks for inside the step is far cheaper than failing it into the workflow's retry
policy (which still applies once these in-step retries are spent: the raised error stays retryable and
carries ``retry_after``).
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from orchestrator.settings import get_settings
from orchestrator.steps.base import StepError, StepTimeout
from orchestrator.steps.egress import EgressPolicy
from orchestrator.steps.http_client import HttpCall, perform
from orchestrator.steps.http_errors import HttpStatusError
from orchestrator.steps.redaction import scrub

ApiType = Literal["openai"]

#: used when neither the step nor the agent profile names a base URL
BASE_URL_ENV = "ORCHESTRATOR_LLM_BASE_URL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: never sleep longer than this for one in-step retry, whatever Retry-After says
MAX_RETRY_WAIT_SECONDS = 30.0
#: a chat completion is text; anything near this size is a misconfigured endpoint
MAX_RESPONSE_BYTES = 20 * 1024 * 1024


def default_base_url() -> str:
    return os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL


@dataclass
class Usage:
    """Token counts summed over every call a step made (repairs, agent turns)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    calls: int = 0

    def add(self, usage: dict[str, Any] | None) -> None:
        self.calls += 1
        if not isinstance(usage, dict):
            return
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            value = usage.get(key)
            if isinstance(value, int):
                setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "calls": self.calls,
        }


@dataclass
class ChatReply:
    message: dict[str, Any]
    finish_reason: str | None
    model: str | None
    usage: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def content(self) -> str:
        content = self.message.get("content")
        if isinstance(content, list):  # some servers answer with content parts
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return content or ""

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        calls = self.message.get("tool_calls")
        return calls if isinstance(calls, list) else []


class ChatClient:
    """One endpoint, one key, one step's deadline. ``complete`` sends one chat-completions request."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        api_type: ApiType = "openai",
        timeout: float,
        max_retries: int,
        deadline: float | None,
        mask: Callable[[str], str],
        log: Callable[[str], None],
        error_prefix: str = "Llm",
        sleep: Callable[[float], None] = time.sleep,
        policy: EgressPolicy | None = None,
    ) -> None:
        if api_type != "openai":  # the config models only admit "openai"; guard direct callers
            raise StepError(f"{error_prefix}.InvalidConfig", f"api_type {api_type!r} is not supported", retryable=False)
        self.url = (base_url or default_base_url()).rstrip("/") + "/chat/completions"
        self._api_key = api_key
        self._timeout = timeout
        self._max_retries = max_retries
        self._deadline = deadline
        self._mask = mask
        self._log = log
        self._prefix = error_prefix
        self._sleep = sleep
        self._policy = policy or EgressPolicy.from_settings(get_settings())
        operator_host = urllib.parse.urlsplit(self.url).hostname if base_url is None and os.environ.get(BASE_URL_ENV) else None
        if operator_host:
            # the operator's own endpoint (often a model server on the private network): it, and only it
            self._policy = self._policy.for_operator_endpoint(operator_host)

    def _scrub(self, text: str) -> str:
        return scrub(text, [self._api_key] if self._api_key else [], self._mask)

    def _remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def complete(self, payload: dict[str, Any]) -> ChatReply:
        """POST ``payload``; retries 429/5xx/connection failures up to ``max_retries`` times in-step."""
        attempt = 0
        while True:
            try:
                return self._post(payload)
            except StepError as exc:
                attempt += 1
                wait = self._retry_wait(exc, attempt)
                if wait is None:
                    raise
                self._log(f"{exc.error} from {self.url}; retry {attempt}/{self._max_retries} in {wait:.1f}s")
                self._sleep(wait)

    def _retry_wait(self, exc: StepError, attempt: int) -> float | None:
        """Seconds to wait before retrying ``exc`` in-step, or None to give up and raise it."""
        if not exc.retryable or attempt > self._max_retries or exc.error.endswith(".Timeout"):
            return None  # a timeout already used a whole timeout's worth of the step's time
        retry_after = exc.retry_after if isinstance(exc, HttpStatusError) else None
        wait = retry_after if retry_after is not None else float(2 ** (attempt - 1))
        if wait > MAX_RETRY_WAIT_SECONDS:
            return None  # the server wants a long pause: leave it to the workflow's retry policy
        remaining = self._remaining()
        if remaining is not None and wait >= remaining:
            return None
        return wait

    def _post(self, payload: dict[str, Any]) -> ChatReply:
        timeout = self._timeout
        remaining = self._remaining()
        if remaining is not None:
            if remaining <= 0:
                raise StepTimeout(f"the step's time ran out before calling {self.url}")
            timeout = min(timeout, remaining)
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        # the http step's client: egress policy, pooled connections, size cap, error classification
        output = perform(
            HttpCall(
                prefix=self._prefix,
                method="POST",
                url=self.url,
                timeout=timeout,
                headers=headers,
                json_body=payload,
                send_json=True,
                max_response_bytes=MAX_RESPONSE_BYTES,
                secrets=[self._api_key] if self._api_key else [],
                mask=self._mask,
            ),
            self._policy,
        )
        return self._parse(output["body"])

    def _parse(self, body: Any) -> ChatReply:
        try:
            choice = body["choices"][0]
            message = choice["message"]
            if not isinstance(message, dict):
                raise TypeError("message is not an object")
        except (KeyError, IndexError, TypeError) as exc:
            excerpt = self._scrub(str(body)[:300])
            raise StepError(
                f"{self._prefix}.InvalidResponse",
                f"POST {self.url} answered 2xx but not a chat completion ({type(exc).__name__}: {exc}); "
                f"is base_url right? body: {excerpt}",
                retryable=False,
            ) from None
        return ChatReply(
            message=message,
            finish_reason=choice.get("finish_reason"),
            model=body.get("model"),
            usage=body.get("usage"),
            raw=body,
        )


def dumps_for_model(value: Any, limit: int) -> str:
    """JSON text of a tool result or input for the model, cut at ``limit`` characters with a marker."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > limit:
        return text[:limit] + f"... [truncated, {len(text) - limit} more characters]"
    return text
