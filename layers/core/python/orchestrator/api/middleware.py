"""ASGI middleware: the request size limit and the last line of defence against unexpected errors.

Both are plain ASGI (not ``BaseHTTPMiddleware``) so that streamed responses (server-sent events) pass
through untouched.
"""

from __future__ import annotations

import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.errors import RequestTooLarge, error_response
from orchestrator.observability import logger

REQUEST_ID_HEADER = "x-request-id"


class BodySizeLimit:
    """413 for a body over ``max_bytes``: at once from Content-Length, else while the body streams in
    (chunked uploads, or a Content-Length that lies)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            too_large = RequestTooLarge(self.max_bytes)
            await error_response(413, too_large.code, too_large.detail, too_large.details)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


class UnexpectedErrors:
    """Answers an exception nothing else handled with a generic 500 in the error shape, and logs it with
    the request's method, route and id (never its headers or body, which may hold keys and secrets).
    Every response carries ``X-Request-ID``: the id to look for in the logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            logger.exception(
                "unexpected error while answering a request",
                extra={"request_id": request_id, "method": scope.get("method"), "path": scope.get("path")},
            )
            if response_started:
                raise  # a streamed response is half sent: the server closes the connection
            response = error_response(
                500, "internal_error", "an unexpected error occurred; quote the request id when reporting it",
                {"request_id": request_id},
            )
            await response(scope, receive, send_with_request_id)
