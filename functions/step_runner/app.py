"""StepRunner Lambda: runs one step of one workflow execution (the Map item of workflow.asl.json)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.composition.factories import get_step_runner_ports
from orchestrator.observability import logger, metrics, tracer
from orchestrator.services.step_runner import StepRunnerPorts, StepRunRequest, run_step


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, ports: StepRunnerPorts | None = None) -> dict[str, Any]:
    return run_step(StepRunRequest.model_validate(event), ports or get_step_runner_ports()).to_payload()
