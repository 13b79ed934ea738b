"""HTTP failure classification shared by the http, webhook, llm and agent executors."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from orchestrator.steps.http_errors import (
    is_retryable_status,
    retry_after_seconds,
    status_error,
    transport_error,
)


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (401, False), (404, False), (408, True),
                                                   (425, True), (429, True), (500, True), (501, False),
                                                   (502, True), (503, True), (505, False)])
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after_seconds({"retry-after": "7"}) == 7.0
    assert retry_after_seconds({"retry-after": date}, now=now) == pytest.approx(30.0)
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_status_error_carries_status_retry_after_and_a_scrubbed_excerpt() -> None:
    # Given a 429 whose body echoes a key
    request = httpx.Request("POST", "http://api.test/v1/chat/completions")
    response = httpx.Response(429, headers={"Retry-After": "3"}, text="limit for key sk-abc-123", request=request)
    # When it is classified with that key as a secret
    error = status_error("Llm", response, "POST http://api.test/v1", secrets=["sk-abc-123"])
    # Then the error is named by status, retryable, keeps Retry-After and never shows the key
    assert (error.error, error.status, error.retryable, error.retry_after) == ("Llm.429", 429, True, 3.0)
    assert "sk-abc-123" not in error.cause and "***" in error.cause


@pytest.mark.parametrize(("exc", "name", "retryable"), [
    (httpx.ReadTimeout("slow"), "X.Timeout", True),
    (httpx.ConnectError("refused"), "X.Connection", True),
    (httpx.RemoteProtocolError("closed"), "X.Connection", True),
    (httpx.UnsupportedProtocol("ftp"), "X.Request", False),
])
def test_transport_errors(exc: httpx.HTTPError, name: str, retryable: bool) -> None:
    error = transport_error("X", exc, "GET http://h/")
    assert (error.error, error.retryable) == (name, retryable)
