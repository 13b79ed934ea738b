"""ASGI middleware: the request size limit, the JSON body guard and the last line of defence against
unexpected errors.

All are plain ASGI (not ``BaseHTTPMiddleware``) so that streamed responses (server-sent events) pass
through untouched.
"""

from __future__ import annotations

import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.errors import RequestTooLarge, error_response
from orchestrator.domain.strict_json import UnsafeJson, strict_loads
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


class JsonBodyGuard:
    """400 ``invalid_json`` for a JSON body that is nested deeper than ``max_depth``, holds NaN / Infinity
    or a lone surrogate (``domain.strict_json``), before any route sees it: every route, with or without
    an API key (``/webhooks/...`` and ``/api/v1/events`` included). The message locates the problem
    (``body.input.x: NaN is not valid JSON``). Bodies declared as JSON, or not declared at all (FastAPI
    reads those as JSON), are checked; malformed JSON is left to the route, which may take text (a
    webhook) or report the syntax error itself. Sits inside ``BodySizeLimit``: at most that many bytes
    are buffered."""

    def __init__(self, app: ASGIApp, max_depth: int) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._has_json_body(scope["method"], Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    await self.app(scope, _replay(message, receive), send)
                    return
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except RequestTooLarge as too_large:
            await error_response(413, too_large.code, str(too_large.detail), too_large.details)(scope, receive, send)
            return
        body = b"".join(chunks)
        try:
            strict_loads(body, max_depth=self.max_depth)
        except UnsafeJson as unsafe:
            details: dict[str, object] = {"location": unsafe.location}
            if unsafe.position is not None:
                details["position"] = unsafe.position
            await error_response(400, "invalid_json", f"the request body is not acceptable JSON: {unsafe}",
                                 details)(scope, receive, send)
            return
        except ValueError:
            pass  # malformed (or not UTF-8): the route's own answer
        await self.app(scope, _replay({"type": "http.request", "body": body, "more_body": False}, receive), send)

    @staticmethod
    def _has_json_body(method: str, headers: Headers) -> bool:
        length = headers.get("content-length")
        if length is not None and length.strip() in ("", "0"):
            return False
        # no length given: a body may still come (chunked; or a Lambda event adapter that sets none), except
        # on the methods that normally have none (event streams are GETs: they are not held up here)
        if length is None and "transfer-encoding" not in headers and method in ("GET", "HEAD", "OPTIONS"):
            return False
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return not media_type or media_type == "application/json" or media_type.endswith("+json")


def _replay(first: Message, receive: Receive) -> Receive:
    """A receive that hands ``first`` (the buffered body) over once, then defers to ``receive``."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return first
        return await receive()

    return replayed


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
