"""GET /api/v1/executions/{id}/events: the execution's changes live, as server-sent events.

Events (each with an ``id:``; see ``services.execution_events`` for how ids resume a stream):

- ``execution``: the execution record (status, error, times) whenever its status or times change;
- ``step``: a step execution record whenever its status or attempt changes;
- ``log``: a new log line;
- ``end``: the execution reached a terminal status; the stream closes. Clients should close too: an
  ``EventSource`` that reconnects anyway with the end's id gets 204, which tells it to stop.

A comment line (``: keep-alive``) comes after ~15 s without events. Browsers' ``EventSource`` cannot send
the API key header: use a client that can (fetch-based SSE readers, the CLI).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import Header, Path, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from orchestrator.api.access import visible_execution
from orchestrator.api.auth import CurrentPrincipal
from orchestrator.api.context import Context
from orchestrator.api.errors import ApiError
from orchestrator.api.routing import resource_router
from orchestrator.api.schemas import (
    ExecutionResponse,
    LogResponse,
    StepExecutionResponse,
    error_responses,
)
from orchestrator.api.stream_slots import TooManyStreams
from orchestrator.domain.lifecycle import is_terminal
from orchestrator.domain.records import ExecutionRecord, LogEntry, StepExecutionRecord
from orchestrator.services.execution_events import ExecutionEventStream, StreamEvent

router = resource_router("", "executions")

#: how long a client waits before reconnecting after the stream closed early (milliseconds)
RECONNECT_MILLISECONDS = 2000
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_EVENT_STREAM_DOC = {
    200: {
        "description": "text/event-stream: `execution`, `step`, `log` events, then `end`",
        # before OpenAPI 3.2 a stream's schema describes one event
        "content": {"text/event-stream": {"schema": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "event": {"enum": ["execution", "step", "log", "end"]},
                "data": {"type": "string", "contentMediaType": "application/json"},
                "retry": {"type": "integer", "minimum": 0},
            },
        }}},
    },
    204: {"description": "the client already received this execution's `end` event"},
}


def _payload(record: ExecutionRecord | StepExecutionRecord | LogEntry) -> BaseModel:
    if isinstance(record, LogEntry):
        return LogResponse.of(record)
    if isinstance(record, StepExecutionRecord):
        return StepExecutionResponse.from_record(record)
    return ExecutionResponse.from_record(record)


def format_event(event: StreamEvent | None) -> str:
    """One event in the text/event-stream format; None is the keep-alive comment."""
    if event is None:
        return ": keep-alive\n\n"
    # JSON on one line: a data field ends at the line's end
    data = json.dumps(_payload(event.record).model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"


def _encoded(stream: ExecutionEventStream) -> Iterator[str]:
    yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
    for event in stream:
        yield format_event(event)


@router.get("/executions/{execution_id}/events", response_class=StreamingResponse,
            responses={**_EVENT_STREAM_DOC, **error_responses(429)})
def execution_events(
    execution_id: Annotated[str, Path(description="the execution's id")],
    principal: CurrentPrincipal,
    context: Context,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", description="resume after this event (sent on reconnect)")
    ] = None,
) -> Response:
    execution = visible_execution(context, principal, execution_id)
    stream = ExecutionEventStream(
        context.store, context.notifier, execution.id, last_event_id=last_event_id, options=context.event_stream
    )
    if stream.client_saw_the_end and is_terminal(execution.status):
        return Response(status_code=204)
    slots = context.stream_slots
    try:
        slots.take(principal.owner_id)
    except TooManyStreams as error:
        raise ApiError(429, "too_many_streams", str(error), details={"max": slots.per_owner}) from None
    # the iterator blocks while it waits for the notifier: on stream threads, not the API's (stream_slots.py)
    return StreamingResponse(slots.relay(principal.owner_id, _encoded(stream)), media_type="text/event-stream",
                             headers=_STREAM_HEADERS)
