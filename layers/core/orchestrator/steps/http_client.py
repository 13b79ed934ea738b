"""One outbound HTTP call as the ``http`` and ``webhook`` executors make it.

Shared here so that both send, read, classify and report the same way: one pooled, egress-guarded
``httpx.Client`` per egress policy (httpx clients are thread-safe, and reusing connections matters on
Lambda where a warm container serves many steps); a whole-call deadline on top of httpx's per-operation
timeouts; a response size cap; JSON bodies decoded when the content type says so; failures classified
by ``orchestrator.steps.http_errors`` (which the llm/agent executors use too).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Annotated, Any, Protocol

import httpx
from pydantic import BeforeValidator

from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.egress import EgressPolicy
from orchestrator.steps.egress_transport import GuardedTransport
from orchestrator.steps.http_errors import status_error, transport_error
from orchestrator.steps.limits import effective_timeout
from orchestrator.steps.redaction import scrub

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 10
USER_AGENT = "orchestrator/0.1"

_STATUS_RANGE = re.compile(r"^(?:([1-5])xx|([1-5]\d\d)-([1-5]\d\d))$", re.IGNORECASE)


def _status_entry(entry: Any) -> int | str:
    if isinstance(entry, bool):
        raise ValueError("a status code must be a number like 200, or a range like '2xx' or '200-299'")
    if isinstance(entry, int) or (isinstance(entry, str) and entry.strip().isdigit()):
        code = int(entry)
        if not 100 <= code <= 599:
            raise ValueError(f"{code} is not an HTTP status code")
        return code
    if isinstance(entry, str) and (m := _STATUS_RANGE.match(entry.strip())):
        if m.group(2) and int(m.group(2)) > int(m.group(3)):
            raise ValueError(f"status range {entry!r} runs backwards")
        return entry.strip().lower()
    raise ValueError(f"{entry!r} is not a status code (200) or range ('2xx', '200-299')")


def _status_list(value: Any) -> list[int | str]:
    entries = value if isinstance(value, list | tuple) else [value]
    return [_status_entry(entry) for entry in entries]


#: config field: the status codes that count as success, e.g. ``[200, 201]`` or ``["2xx", 304]``
AcceptedStatus = Annotated[list[int | str], BeforeValidator(_status_list)]


def status_accepted(status: int, accepted: Iterable[int | str]) -> bool:
    for entry in accepted:
        if isinstance(entry, int):
            if status == entry:
                return True
            continue
        m = _STATUS_RANGE.match(entry)
        if m is None:
            continue
        if m.group(1):
            if status // 100 == int(m.group(1)):
                return True
        elif int(m.group(2)) <= status <= int(m.group(3)):
            return True
    return False


def validate_http_url(url: str) -> str:
    """Config validator: an absolute http(s) URL with a host (other schemes never reach the network code)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("the url must be an absolute http:// or https:// URL")
    return url


#: a header or query value as configs may hold it after rendering (whole-value templates keep their type)
Scalar = str | int | float | bool


def scalar_text(value: Scalar) -> str:
    """Header text for a rendered value: booleans as JSON writes them, not Python's True/False."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def header_texts(headers: Mapping[str, Scalar]) -> dict[str, str]:
    return {name: scalar_text(value) for name, value in headers.items()}


def where(method: str, url: str) -> str:
    """``METHOD scheme://host[:port]/path`` for messages: the query and user info may hold credentials."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return method
    port = f":{parsed.port}" if parsed.port else ""
    return f"{method} {parsed.scheme}://{parsed.host}{port}{parsed.path}"


_clients: dict[EgressPolicy, httpx.Client] = {}
_clients_lock = threading.Lock()


def shared_client(policy: EgressPolicy) -> httpx.Client:
    """The process-wide client for ``policy`` (made on first use; thread-safe)."""
    with _clients_lock:
        client = _clients.get(policy)
        if client is None:
            client = httpx.Client(
                transport=GuardedTransport(policy),
                # A shared client must not carry one workflow's cookies into another's requests.
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
                headers={"User-Agent": USER_AGENT},
                max_redirects=MAX_REDIRECTS,
                trust_env=False,
            )
            _clients[policy] = client
        return client


def close_shared_clients() -> None:
    """Close every pooled connection (tests, and interpreter shutdown hooks)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def decode_body(response: httpx.Response, raw: bytes) -> Any:
    """JSON when the content type says so (and the bytes parse); otherwise text."""
    if raw and _is_json(response.headers.get("content-type", "")):
        try:
            return json.loads(raw)
        except ValueError:
            pass  # a server that lies about its content type still gets its text reported
    return raw.decode(response.charset_encoding or "utf-8", errors="replace")


def response_output(response: httpx.Response, raw: bytes) -> dict[str, Any]:
    """Seed 002's output of an HTTP step: status_code, headers (lower-case names), body."""
    return {"status_code": response.status_code, "headers": dict(response.headers), "body": decode_body(response, raw)}


@dataclass
class HttpCall:
    """Everything one call needs; ``prefix`` names the errors (``Http.503``, ``Webhook.Timeout``)."""

    prefix: str
    method: str
    url: str
    timeout: float
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] | None = None
    content: bytes | str | None = None
    json_body: Any = None
    send_json: bool = False
    follow_redirects: bool = False
    accepted: Iterable[int | str] = ("2xx",)
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    #: secret values to scrub from error causes (the step runner's mask is applied after)
    secrets: Iterable[str] = ()
    mask: Callable[[str], str] | None = None


class HttpStepConfig(Protocol):
    """What the config of a step that makes one HTTP call says about where it goes and what counts."""

    url: str
    timeout: float
    follow_redirects: bool
    accepted_status: list[int | str]
    max_response_bytes: int


def step_call(
    config: HttpStepConfig, ctx: StepContext, *, prefix: str, method: str, default_timeout: float, **request: Any
) -> HttpCall:
    """The call of an http-like step; ``request``: the rest of HttpCall (headers, body, secrets...)."""
    return HttpCall(
        prefix=prefix,
        method=method,
        url=config.url,
        timeout=effective_timeout(config.timeout, ctx) or default_timeout,
        follow_redirects=config.follow_redirects,
        accepted=config.accepted_status,
        max_response_bytes=config.max_response_bytes,
        mask=ctx.mask,
        **request,
    )


def perform(call: HttpCall, policy: EgressPolicy) -> dict[str, Any]:
    """Send ``call``; return the step output, or raise a classified StepError (output attached if any)."""
    what = where(call.method, call.url)
    secrets = list(call.secrets)
    deadline = time.monotonic() + call.timeout
    request_kwargs: dict[str, Any] = {"headers": dict(call.headers), "params": call.params}
    if call.send_json:
        request_kwargs["json"] = call.json_body
    elif call.content is not None:
        request_kwargs["content"] = call.content
    try:
        with shared_client(policy).stream(
            call.method,
            call.url,
            timeout=httpx.Timeout(call.timeout),
            follow_redirects=call.follow_redirects,
            **request_kwargs,
        ) as response:
            raw = _read_capped(response, call, deadline, what)
    except StepError as exc:
        exc.cause = scrub(exc.cause, secrets, call.mask)
        raise
    except httpx.HTTPError as exc:
        raise transport_error(call.prefix, exc, what, secrets=secrets, mask=call.mask) from None
    output = response_output(response, raw)
    if not status_accepted(response.status_code, call.accepted):
        error = status_error(call.prefix, _buffered(response, raw), what, secrets=secrets, mask=call.mask)
        error.output = output
        raise error
    return output


def _read_capped(response: httpx.Response, call: HttpCall, deadline: float, what: str) -> bytes:
    """The decoded body, refusing more than ``max_response_bytes`` and a body still trickling in at the
    deadline (httpx's timeouts are per read, so a slow drip would never trip them)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > call.max_response_bytes:
            raise StepError(
                f"{call.prefix}.ResponseTooLarge",
                f"{what} answered more than {call.max_response_bytes} bytes (max_response_bytes)",
                retryable=False,
            )
        if time.monotonic() > deadline:
            raise transport_error(call.prefix, httpx.ReadTimeout(f"body not complete after {call.timeout}s"), what)
        chunks.append(chunk)
    return b"".join(chunks)


def _buffered(response: httpx.Response, raw: bytes) -> httpx.Response:
    """A read copy of a streamed response, for code that wants ``.text``; ``raw`` is already decoded,
    so the content-encoding header must not make httpx decode it again."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
    return httpx.Response(response.status_code, headers=headers, content=raw, request=response.request)
