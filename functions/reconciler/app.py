"""ReconcilerFunction (scheduled): re-announces stuck queued executions, syncs ended state machines."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.composition.factories import get_execution_service
from orchestrator.observability import logger, metrics, tracer
from orchestrator.services.executions import ExecutionService
from orchestrator.services.reconciler import reconcile
from orchestrator.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, executions: ExecutionService | None = None) -> dict[str, Any]:
    service = executions or get_execution_service()
    report = reconcile(service.store, service, service.machines,
                       queued_timeout_seconds=get_settings().queued_timeout_seconds)
    return report.__dict__
