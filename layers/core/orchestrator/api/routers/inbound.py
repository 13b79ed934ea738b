"""Inbound triggers over HTTP: ``/webhooks/{path}`` and ``POST /api/v1/events``.

Webhooks take no API key: a trigger's HMAC secret is its authentication (see
``services/inbound_triggers.py``), and without one the path is. Events need an API key; the app passes
the dependency that checks it as ``event_scope``: it returns the owner whose workflows the caller's
events may trigger, or None for every owner's (an admin key). Bodies are read up to ``max_body_bytes``
(413 beyond it), before anything else happens. Errors have the API's one shape,
``{"error": {"code", "message", "details"}}``.
"""

# no `from __future__ import annotations`: FastAPI must see the dependencies in the route signatures,
# and they are closures of create_inbound_router, out of reach of a deferred annotation's evaluation
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from orchestrator.api.errors import ApiError, error_response
from orchestrator.api.schemas import ErrorResponse, ExecutionResponse
from orchestrator.composition.triggers import get_trigger_service
from orchestrator.domain.strict_json import UnsafeJson, strict_loads
from orchestrator.services.inbound_triggers import WebhookReplayed
from orchestrator.services.trigger_errors import (
    InvalidEvent,
    InvalidTriggerConfig,
    InvalidWebhookPayload,
    TriggerError,
    TriggerInactive,
    WebhookMethodNotAllowed,
    WebhookNotFound,
    WebhookSecretUnavailable,
    WebhookUnauthorized,
)
from orchestrator.services.triggers import TriggerService
from orchestrator.settings import get_settings

#: the methods a webhook trigger may listen for (WebhookConfig.method)
WEBHOOK_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

_STATUS: dict[type[TriggerError], int] = {
    InvalidEvent: 400,
    InvalidWebhookPayload: 400,
    WebhookUnauthorized: 401,
    WebhookNotFound: 404,
    WebhookMethodNotAllowed: 405,
    TriggerInactive: 409,
    WebhookReplayed: 409,
    InvalidTriggerConfig: 422,
    WebhookSecretUnavailable: 503,
}


class WebhookAccepted(BaseModel):
    execution_id: str


class EventAccepted(BaseModel):
    matched: int = Field(description="event triggers that matched and started an execution")
    executions: list[ExecutionResponse]


def _trigger_error_response(error: TriggerError) -> JSONResponse:
    status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 500)
    headers = {"Allow": ", ".join(error.details["allowed"])} if isinstance(error, WebhookMethodNotAllowed) else None
    return error_response(status, error.code, error.message, error.details, headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 past ``limit`` bytes (a lying Content-Length is caught while reading)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_inbound_router(
    *,
    event_scope: Callable[..., str | None],
    trigger_service: Callable[[], TriggerService] = get_trigger_service,
    max_body_bytes: int | None = None,
    max_json_depth: int | None = None,
) -> APIRouter:
    """The router; ``event_scope`` is the API-key dependency described in the module doc."""
    router = APIRouter(tags=["triggers"])
    limit = max_body_bytes or get_settings().max_request_bytes
    max_depth = max_json_depth or get_settings().max_json_depth
    errors: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorResponse} for status in (400, 401, 404, 405, 409, 413, 503)
    }

    async def receive_webhook(path: str, request: Request,
                              triggers: Annotated[TriggerService, Depends(trigger_service)]) -> Any:
        try:
            body = await _read_body(request, limit)
            execution = await run_in_threadpool(
                triggers.receive_webhook, path, body, request.headers, method=request.method
            )
        except ApiError as refused:
            return error_response(refused.status_code, refused.code, refused.message, refused.details)
        except TriggerError as error:
            return _trigger_error_response(error)
        return WebhookAccepted(execution_id=execution.id)

    # one route per method, so that each OpenAPI operation has its own operation id
    for method in WEBHOOK_METHODS:
        router.add_api_route("/webhooks/{path:path}", receive_webhook, methods=[method], status_code=202,
                             response_model=WebhookAccepted, responses=errors, summary="Fire a webhook trigger",
                             operation_id=f"receive_webhook_{method.lower()}")

    @router.post("/api/v1/events", status_code=202, response_model=EventAccepted, responses=errors,
                 summary="Publish an event to the event triggers")
    async def publish_event(request: Request, owner_id: Annotated[str | None, Depends(event_scope)],
                            triggers: Annotated[TriggerService, Depends(trigger_service)]) -> Any:
        try:
            body = await _read_body(request, limit)
            try:
                event = strict_loads(body, max_depth=max_depth)
            except UnsafeJson as unsafe:
                raise ApiError(400, "invalid_json", f"the body is not acceptable JSON: {unsafe}",
                               details={"location": unsafe.location}) from None
            except ValueError:
                raise ApiError(400, "invalid_json", "the body is not JSON: send one event object") from None
            executions = await run_in_threadpool(triggers.publish_event, event, owner_id=owner_id)
        except ApiError as refused:
            return error_response(refused.status_code, refused.code, refused.message, refused.details)
        except TriggerError as error:
            return _trigger_error_response(error)
        return EventAccepted(matched=len(executions),
                             executions=[ExecutionResponse.from_record(execution) for execution in executions])

    return router
