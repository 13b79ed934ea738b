"""The PlanReader use case: the groups of one part of a big execution's plan (services/workflow_plan.py).

The state machine's input only names a big plan's parts; before it starts a part's child execution, it
asks for that part's groups, computed here from the execution's pinned definition exactly as the
dispatcher computed the parts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from pydantic import BaseModel, Field

from orchestrator.services.prepared_executions import PreparedExecutions
from orchestrator.services.step_runner import ExecutionRef
from orchestrator.services.workflow_plan import plan_parts


class PartRef(BaseModel):
    index: int = Field(ge=0)
    steps_per_execution: int = Field(ge=1)


class PartRequest(BaseModel):
    """The Map item of statemachines/workflow.asl.json's RunParts state."""

    execution: ExecutionRef
    part: PartRef


class PlanReader:
    def __init__(self, prepared: PreparedExecutions, capacity: int = 8) -> None:
        self.prepared = prepared
        self.capacity = capacity
        self._parts: OrderedDict[tuple[str, int], list[list[dict[str, Any]]]] = OrderedDict()
        self._lock = threading.Lock()

    def read_part(self, request: PartRequest) -> dict[str, Any]:
        parts = self._parts_of(request.execution.id, request.part.steps_per_execution)
        if request.part.index >= len(parts):
            raise LookupError(f"execution '{request.execution.id}' has {len(parts)} plan parts, "
                              f"not a part {request.part.index}")
        return {"groups": parts[request.part.index]}

    def _parts_of(self, execution_id: str, steps_per_execution: int) -> list[list[dict[str, Any]]]:
        key = (execution_id, steps_per_execution)
        with self._lock:
            parts = self._parts.get(key)
            if parts is not None:
                self._parts.move_to_end(key)
                return parts
        parts = plan_parts(self.prepared.get(execution_id).definition, steps_per_execution)
        with self._lock:
            self._parts[key] = parts
            while len(self._parts) > self.capacity:
                self._parts.popitem(last=False)
        return parts
