"""Step executions: /api/v1/step-executions/{id}, its output (large ones from blob storage), retry."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Path, Response

from orchestrator.api.access import visible_step_execution
from orchestrator.api.auth import CurrentPrincipal
from orchestrator.api.context import Context
from orchestrator.api.errors import not_found
from orchestrator.api.routing import resource_router
from orchestrator.api.schemas import (
    ExecutionResponse,
    StepExecutionResponse,
    StepOutput,
    error_responses,
)

router = resource_router("/step-executions", "step executions")

StepExecutionId = Annotated[str, Path(description="the step execution's id")]


@router.get("/{step_execution_id}", response_model=StepExecutionResponse)
def get_step_execution(step_execution_id: StepExecutionId, principal: CurrentPrincipal, context: Context,
                       ) -> StepExecutionResponse:
    return StepExecutionResponse.from_record(visible_step_execution(context, principal, step_execution_id))


@router.get("/{step_execution_id}/output", response_model=StepOutput)
def get_step_output(step_execution_id: StepExecutionId, principal: CurrentPrincipal, context: Context) -> StepOutput:
    """The step's output, read from blob storage when it was too large to keep with the record."""
    step = visible_step_execution(context, principal, step_execution_id)
    output = step.output
    if step.output_ref is not None:
        try:
            output = json.loads(context.blobs.get(step.output_ref))
        except KeyError:  # the blob expired or was removed; the record outlived it
            raise not_found("step output", step_execution_id) from None
    return StepOutput(step_execution_id=step.id, step_id=step.step_id, output=output)


@router.post("/{step_execution_id}/retry", status_code=202, response_model=ExecutionResponse,
             responses=error_responses(409))
def retry_step(step_execution_id: StepExecutionId, principal: CurrentPrincipal, context: Context,
               response: Response) -> ExecutionResponse:
    """A new execution from this step on: the steps before it keep their outputs, it and what depends on
    it run again. 409 while the execution has not finished."""
    step = visible_step_execution(context, principal, step_execution_id)
    retried = context.executions.retry_step(step.id)
    response.headers["Location"] = f"/api/v1/executions/{retried.id}"
    return ExecutionResponse.from_record(retried)
