"""PlanReader Lambda: the groups of one part of a big execution's plan (workflow.asl.json's RunParts)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.composition.factories import get_plan_reader
from orchestrator.observability import logger, tracer
from orchestrator.services.plan_reader import PartRequest, PlanReader


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext, reader: PlanReader | None = None) -> dict[str, Any]:
    return (reader or get_plan_reader()).read_part(PartRequest.model_validate(event))
