"""One error shape for every failure: ``{"error": {"code", "message", "details"}}``.

Domain and store exceptions map to HTTP here, once, so routers just let them rise. Messages name what
the client sent (ids, fields), never request headers, stored secrets or internals; unexpected errors are
answered by ``middleware.UnexpectedErrors`` with a generic message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from orchestrator.domain.identifiers import is_text_problem
from orchestrator.domain.lifecycle import InvalidTransition
from orchestrator.domain.problems import Problem, WorkflowValidationError, format_location
from orchestrator.ports.store import DuplicateRecord, InvalidCursor, RecordNotFound, VersionConflict
from orchestrator.services.executions import WorkflowNotRunnable
from orchestrator.services.trigger_catalog import split_problem
from orchestrator.services.trigger_errors import InvalidTriggerConfig
from orchestrator.services.workflow_catalog import WorkflowStateConflict

#: the code of an HTTPException raised by the framework (unknown route, wrong method...) per status
_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


class ApiError(Exception):
    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})


class RequestTooLarge(HTTPException):
    """The body is over the limit. Raised while the app reads the body (``middleware.BodySizeLimit``); an
    HTTPException on purpose: FastAPI turns anything else raised while it reads a body into a 400."""

    code = "request_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {max_bytes} bytes")
        self.details = {"max_bytes": max_bytes}


def not_found(kind: str, key: str) -> ApiError:
    """The same answer whether the record does not exist or belongs to another owner."""
    return ApiError(404, "not_found", f"{kind} {key!r} not found", details={"kind": kind, "id": key})


def error_body(code: str, message: str, details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": dict(details or {})}}


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status_code, headers=dict(headers or {}))


def problems_body(problems: Iterable[Problem], source: str = "") -> list[dict[str, str]]:
    """Problems as ``{"location", "message"}``, located from the request body's top (``definition.steps[0]``)."""
    return [{"location": join_location(source, problem.location), "message": problem.message} for problem in problems]


def join_location(parent: str, child: str) -> str:
    """``definition`` + ``steps[0]`` -> ``definition.steps[0]``; + ``["a.b"]`` -> ``definition["a.b"]``."""
    if not parent or not child:
        return parent or child
    return f"{parent}{child}" if child.startswith("[") else f"{parent}.{child}"


# --- handlers -------------------------------------------------------------------------------------------


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.status_code, error.code, error.message, error.details, error.headers)


#: ``app.state`` key of the routes a 405's ``Allow`` header is computed from
ROUTES_STATE_KEY = "routes_for_allow"


def allowed_methods(routes: Iterable[BaseRoute], path: str) -> list[str]:
    """Every method some route of this path takes (the framework names only the first route's)."""
    return sorted({
        method for route in routes if isinstance(route, APIRoute) and route.path_regex.match(path)
        for method in route.methods
    })


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    status = error.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    message = error.detail if isinstance(error.detail, str) and error.detail else phrase
    headers = dict(error.headers or {})
    if status == 405:
        allowed = allowed_methods(getattr(request.app.state, ROUTES_STATE_KEY, ()), request.url.path)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
    return error_response(status, _CODES_BY_STATUS.get(status, "error"), message, headers=headers)


async def _request_too_large(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestTooLarge)
    return error_response(413, error.code, str(error.detail), error.details)


async def _request_validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = list(error.errors())
    broken_json = next((detail for detail in errors if detail.get("type") == "json_invalid"), None)
    if broken_json is not None:
        reason = (broken_json.get("ctx") or {}).get("error", "malformed JSON")
        position = broken_json["loc"][-1] if broken_json.get("loc") else None
        return error_response(400, "invalid_json", f"the request body is not valid JSON: {reason}",
                              {"position": position} if isinstance(position, int) else {})
    problems = [
        {"location": request_location(detail.get("loc", ())), "message": str(detail.get("msg", "invalid"))}
        for detail in errors
    ]
    if _malformed_text(problems):
        return error_response(400, "invalid_text", _MALFORMED_TEXT, {"problems": problems})
    return error_response(422, "validation_error", "the request is not valid", {"problems": problems})


_MALFORMED_TEXT = "names, tags, ids and paths must be text without NUL characters or lone surrogates"


def _malformed_text(problems: Iterable[Mapping[str, str]]) -> bool:
    """A NUL or a lone surrogate in a name is a malformed request (400), not an invalid one (422)."""
    return any(is_text_problem(problem["message"]) for problem in problems)


def request_location(loc: Sequence[Any]) -> str:
    """FastAPI's ``("body", "definition", "steps")`` as ``definition.steps``: body fields are located from
    the body's top, like a definition's own problems; query / path / header keep their part's name."""
    parts = tuple(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    return format_location(tuple(part if isinstance(part, int) else str(part) for part in parts)) or "body"


async def _invalid_definition(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, WorkflowValidationError)
    problems = problems_body(error.problems, error.source)
    if _malformed_text(problems):
        return error_response(400, "invalid_text", _MALFORMED_TEXT, {"problems": problems})
    return error_response(
        422, "invalid_definition", f"{len(error.problems)} problem(s) found in the definition",
        {"problems": problems},
    )


async def _invalid_trigger_config(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidTriggerConfig)
    # the trigger's fields are the request body's: `config.cron` is where the client wrote it
    problems = problems_body(map(split_problem, error.problems))
    if _malformed_text(problems):
        return error_response(400, "invalid_text", _MALFORMED_TEXT, {"problems": problems})
    return error_response(422, error.code, error.message, {"problems": problems})


async def _record_not_found(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RecordNotFound)
    problem = not_found(error.kind, error.key)
    return error_response(problem.status_code, problem.code, problem.message, problem.details)


async def _invalid_transition(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidTransition)
    return error_response(
        409, "invalid_transition", str(error), {"current": error.current.value, "requested": error.target.value}
    )


async def _workflow_state_conflict(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, WorkflowStateConflict)
    return error_response(409, "invalid_transition", str(error), {"current": error.current.value})


async def _workflow_not_runnable(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, WorkflowNotRunnable)
    return error_response(409, "workflow_not_runnable", str(error), {"current": error.status})


async def _version_conflict(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, VersionConflict)
    return error_response(409, "version_conflict", str(error),
                          {"expected": error.expected, "current": error.actual})


async def _duplicate(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DuplicateRecord)
    return error_response(409, "conflict", f"{error.kind} already exists", {"kind": error.kind})


async def _invalid_cursor(_: Request, error: Exception) -> JSONResponse:
    return error_response(400, "invalid_cursor", "the cursor is not one this list issued; start without it",
                          {"location": "query.cursor"})


def install_error_handlers(app: FastAPI) -> None:
    handlers = {
        ApiError: _api_error,
        StarletteHTTPException: _http_error,
        RequestTooLarge: _request_too_large,
        RequestValidationError: _request_validation_error,
        WorkflowValidationError: _invalid_definition,
        InvalidTriggerConfig: _invalid_trigger_config,
        RecordNotFound: _record_not_found,
        InvalidTransition: _invalid_transition,
        WorkflowStateConflict: _workflow_state_conflict,
        WorkflowNotRunnable: _workflow_not_runnable,
        VersionConflict: _version_conflict,
        DuplicateRecord: _duplicate,
        InvalidCursor: _invalid_cursor,
    }
    for exception_type, handler in handlers.items():
        app.add_exception_handler(exception_type, handler)
