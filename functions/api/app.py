"""ApiFunction: the control-plane HTTP API (FastAPI through Mangum) behind API Gateway's HTTP API."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from orchestrator.api import create_app
from orchestrator.observability import logger, metrics, tracer
from orchestrator.services.execution_events import EventStreamOptions

#: API Gateway buffers a Lambda's response and gives up after 30 s: event streams close well before, and
#: clients reconnect with Last-Event-ID (see services/execution_events.py)
LAMBDA_EVENT_STREAM = EventStreamOptions(max_seconds=20.0)


@cache
def _app() -> Any:
    return create_app(event_stream=LAMBDA_EVENT_STREAM)


@cache
def _adapter(base_path: str) -> Mangum:
    return Mangum(_app(), lifespan="off", api_gateway_base_path=base_path)


def stage_base_path(event: dict[str, Any]) -> str:
    """A named stage is the first segment of the request path (``/dev/api/v1/...``); $default is none."""
    stage = event.get("requestContext", {}).get("stage") or "$default"
    return "/" if stage == "$default" else f"/{stage}"


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, app: Any = None) -> dict[str, Any]:
    base_path = stage_base_path(event)
    adapter = _adapter(base_path) if app is None else Mangum(app, lifespan="off", api_gateway_base_path=base_path)
    return adapter(event, context)
