"""Lambda semantics at the Task boundary: how a function error is reported, what
``arn:aws:states:::lambda:invoke`` returns, and how its Payload parameter becomes the event.
"""

from __future__ import annotations

import json
import traceback
import uuid
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime
from types import TracebackType
from typing import Any

from orchestrator.asl.errors import StatesError
from orchestrator.asl.values import to_json

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
LAMBDA_INVOKE_CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"
INVOKE_PARAMETERS = frozenset({"FunctionName", "Payload", "Qualifier", "InvocationType", "ClientContext", "LogType"})


def function_error(exc: BaseException, frames: TracebackType | None = None) -> StatesError:
    """A function's exception as Lambda reports it: the error name is the exception's ``error`` attribute
    if it has one, else its class name; the cause is Lambda's error payload as compact JSON whose
    stackTrace holds the function's own frames."""
    error_name = getattr(exc, "error", None)
    if not isinstance(error_name, str) or not error_name:
        error_name = type(exc).__name__
    stack = traceback.format_list(traceback.extract_tb(frames)) if frames is not None else []
    cause = to_json({"errorMessage": str(exc), "errorType": error_name, "stackTrace": stack})
    return StatesError(error_name, cause, from_task=True)


class FunctionFailure:
    """What a function call returns instead of raising: its error, captured where it happened."""

    __slots__ = ("error",)

    def __init__(self, error: StatesError) -> None:
        self.error = error


def call_capturing_errors(invoke: Callable[[str, Any], Any], resource: str, payload: Any) -> Any:
    """Run a sync ``invoke`` (in a pool thread), turning its exception into a FunctionFailure.

    Capturing here keeps the stack trace to the function's frames (not the interpreter's) and spares the
    exception a trip through the event loop. A BaseException (a crash) is not a function error: it passes.
    """
    try:
        return invoke(resource, payload)
    except Exception as exc:
        tb = exc.__traceback__
        return FunctionFailure(function_error(exc, tb.tb_next if tb is not None else None))


async def await_capturing_errors(invoke: Callable[[str, Any], Any], resource: str, payload: Any) -> Any:
    """The same for an ``async def`` invoke."""
    try:
        return await invoke(resource, payload)
    except Exception as exc:
        tb = exc.__traceback__
        return FunctionFailure(function_error(exc, tb.tb_next if tb is not None else None))


def marshal_error(exc: Exception) -> StatesError:
    """The function returned something that is not JSON (Lambda fails to serialise the response)."""
    message = f"Unable to marshal response: {exc}"
    cause = to_json({"errorMessage": message, "errorType": "Runtime.MarshalError", "stackTrace": []})
    return StatesError("Runtime.MarshalError", cause, from_task=True)


def event_from_payload(payload: Any) -> Any:
    """The event a function receives for ``Payload``: JSON text in a string is parsed, as Lambda does
    with the bytes it is given; a missing Payload is an empty object."""
    if payload is None:
        return {}
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except ValueError:
            return payload
    return payload


def invoke_response(payload: Any, payload_json: str, now: datetime, status_code: int = 200) -> dict[str, Any]:
    """The Invoke API response that ``lambda:invoke`` returns as the task result."""
    request_id = str(uuid.uuid4())
    date = format_datetime(now, usegmt=True)
    trace_id = f"Root=1-{int(now.timestamp()):08x}-{uuid.uuid4().hex[:24]}"
    content_length = str(len(payload_json.encode("utf-8")))
    headers = {
        "Connection": "keep-alive",
        "Content-Length": content_length,
        "Content-Type": "application/json",
        "Date": date,
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
        "X-Amzn-Trace-Id": trace_id,
    }
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {name: [value] for name, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": status_code,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": status_code,
    }
