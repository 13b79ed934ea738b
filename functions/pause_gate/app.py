"""PauseGate Lambda: parks a step of a paused execution (its task token) until resume or cancel."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.composition.factories import get_pause_gate_ports
from orchestrator.observability import logger, tracer
from orchestrator.services.pause_gate import ParkRequest, PauseGatePorts, park


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext, ports: PauseGatePorts | None = None) -> dict[str, Any]:
    return park(ParkRequest.model_validate(event), ports or get_pause_gate_ports())
