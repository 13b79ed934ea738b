"""TriggerFunction: what EventBridge Scheduler schedules and event-trigger rules invoke.

Payloads: ``{"trigger_id", "scheduled_time"}`` fires one schedule slot, idempotently (a retried
invocation of the same slot starts nothing); ``{"trigger_id", "event"}`` fires one event trigger;
``{"action": "poll_conditions"}`` polls the condition triggers.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.composition.triggers import get_trigger_service
from orchestrator.observability import logger, tracer
from orchestrator.services.triggers import TriggerService


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext, service: TriggerService | None = None) -> dict[str, Any]:
    return (service or get_trigger_service()).handle_invocation(event)
