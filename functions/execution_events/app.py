"""ExecutionEventsFunction: Step Functions "Execution Status Change" events -> the execution's final status."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.composition.factories import get_execution_service
from orchestrator.observability import logger, metrics, tracer
from orchestrator.services.executions import ExecutionService


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, executions: ExecutionService | None = None) -> dict[str, Any]:
    detail = EventBridgeEvent(event).detail
    finished = (executions or get_execution_service()).finish(
        detail["name"], detail["status"], error=detail.get("error"), cause=detail.get("cause"))
    return {"execution_id": detail["name"], "recorded": finished is not None}
