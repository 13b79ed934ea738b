"""One error shape for every failure, and nothing secret in any of them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from api_harness import MAX_REQUEST_BYTES, Api, definition, make_api

from orchestrator.adapters.sqlite import SqliteStore

SECRET = "hunter2-db-password"


def _assert_error_shape(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code and body["error"]["message"]


def test_a_body_over_the_limit_is_413_by_its_content_length(api: Api) -> None:
    big = {"definition": definition(), "description": "x" * (MAX_REQUEST_BYTES + 1)}
    response = api.client.post("/api/v1/workflows", json=big, headers=api.as_owner("alice"))
    assert response.status_code == 413
    _assert_error_shape(response.json(), "request_too_large")
    assert response.json()["error"]["details"] == {"max_bytes": MAX_REQUEST_BYTES}


def test_a_streamed_body_over_the_limit_is_413_while_it_is_read(api: Api) -> None:
    # Given a chunked upload: no Content-Length to judge it by
    def chunks() -> Iterator[bytes]:
        yield b'{"description": "'
        for _ in range(10):
            yield b"x" * (MAX_REQUEST_BYTES // 8)
        yield b'"}'

    response = api.client.post("/api/v1/workflows", content=chunks(),
                               headers={**api.as_owner("alice"), "Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    _assert_error_shape(response.json(), "request_too_large")


def test_bad_json_is_400(api: Api) -> None:
    response = api.client.post("/api/v1/workflows", content=b'{"definition": {', headers={
        **api.as_owner("alice"), "Content-Type": "application/json"})
    assert response.status_code == 400
    _assert_error_shape(response.json(), "invalid_json")


def test_request_validation_is_422_with_locations(api: Api) -> None:
    response = api.client.post("/api/v1/workflows", json={"definition": "not an object", "tags": [1, {}]},
                               headers=api.as_owner("alice"))
    assert response.status_code == 422
    _assert_error_shape(response.json(), "validation_error")
    locations = {problem["location"] for problem in response.json()["error"]["details"]["problems"]}
    assert {"definition", "tags[0]", "tags[1]"} <= locations
    limit = api.client.get("/api/v1/workflows", params={"limit": 0}, headers=api.as_owner("alice"))
    assert limit.status_code == 422
    assert limit.json()["error"]["details"]["problems"][0]["location"] == "query.limit"


def test_unknown_routes_and_methods_use_the_error_shape(api: Api) -> None:
    missing = api.client.get("/api/v1/nothing-here", headers=api.as_owner("alice"))
    assert missing.status_code == 404
    _assert_error_shape(missing.json(), "not_found")
    wrong_method = api.client.delete("/api/v1/executions", headers=api.as_owner("alice"))
    assert wrong_method.status_code == 405
    _assert_error_shape(wrong_method.json(), "method_not_allowed")
    assert "GET" in wrong_method.headers["Allow"]


class _FailingStore:
    """A store whose workflow listing fails the way a driver does: with connection details in the text."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list_workflows(self, **_: Any) -> Any:
        raise RuntimeError(f"connection to mongodb://orchestrator:{SECRET}@db.internal:27017 refused")


def test_an_unexpected_error_is_a_generic_500_logged_with_its_request_id(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    api = make_api(_FailingStore(store))  # type: ignore[arg-type]
    caplog.set_level(logging.ERROR)
    key_headers = api.as_owner("alice")
    # When a request meets an error nothing expected
    response = api.client.get("/api/v1/workflows", headers=key_headers)
    # Then the client gets a 500 in the error shape: no exception text, no trace, no secret
    assert response.status_code == 500
    body = response.json()
    _assert_error_shape(body, "internal_error")
    assert SECRET not in response.text and "Traceback" not in response.text and "RuntimeError" not in response.text
    request_id = body["error"]["details"]["request_id"]
    assert response.headers["X-Request-ID"] == request_id
    # And the log has the error with the request's id and route, but not the caller's key
    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    assert request_id in logged and "/api/v1/workflows" in logged
    assert api.keys["alice"] not in logged
