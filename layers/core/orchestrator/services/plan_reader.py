"""The PlanReader use case: the groups of one part of a big execution's plan (services/workflow_plan.py).

The state machine's input only names a big plan's parts; before it starts a part's child execution, it
asks for that part's groups, computed here from the execution's pinned definition exactly as the
dispatcher computed the parts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from orchestrator.services.prepared_executions import PreparedExecutions
from orchestrator.services.step_runner import ExecutionRef


class PartRef(BaseModel):
    index: int = Field(ge=0)
    steps_per_execution: int = Field(ge=1)


class PartRequest(BaseModel):
    """The Map item of statemachines/workflow.asl.json's RunParts state."""

    execution: ExecutionRef
    part: PartRef


class PlanReader:
    def __init__(self, prepared: PreparedExecutions) -> None:
        self.prepared = prepared

    def read_part(self, request: PartRequest) -> dict[str, Any]:
        parts = self.prepared.get(request.execution.id).parts(request.part.steps_per_execution)
        if request.part.index >= len(parts):
            raise LookupError(f"execution '{request.execution.id}' has {len(parts)} plan parts, "
                              f"not a part {request.part.index}")
        return {"groups": parts[request.part.index]}
