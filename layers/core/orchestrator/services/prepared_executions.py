"""An execution's prepared context, read and parsed once per process.

``ExecutionService`` writes the context record (pinned definition, input, owner) once, before the state
machine starts, and never changes it. Every step and every plan part needs the parsed definition (and a part its slice of the plan): reading
and validating it again for each of 10,000 steps would make a big workflow quadratic, so a warm process
keeps the last few executions' contexts here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.ports.step_results import StepResultStore
from orchestrator.services.step_records import EXECUTION_CONTEXT_KEY
from orchestrator.services.workflow_plan import PlanPart, plan_parts

#: executions a process keeps parsed: a Lambda runs one or a few at a time, the local engine a few dozen
DEFAULT_CAPACITY = 64


@dataclass(frozen=True)
class PreparedExecution:
    context: dict[str, Any]
    definition: WorkflowDefinition
    _parts: dict[int, list[PlanPart]] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def workflow_steps(self) -> dict[str, dict[str, Any]]:
        """Every top-level step's definition as JSON, by id (executors read it; none may change it)."""
        return {step.id: step.model_dump(mode="json", exclude_none=True) for step in self.definition.steps}

    def parts(self, steps_per_execution: int) -> list[PlanPart]:
        """The plan's parts, as the dispatcher cut them (services/workflow_plan.py), computed once."""
        parts = self._parts.get(steps_per_execution)
        if parts is None:
            parts = self._parts[steps_per_execution] = plan_parts(self.definition, steps_per_execution)
        return parts


class PreparedExecutions:
    def __init__(self, results: StepResultStore, capacity: int = DEFAULT_CAPACITY) -> None:
        self.results = results
        self.capacity = capacity
        self._cache: OrderedDict[str, PreparedExecution] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, execution_id: str) -> PreparedExecution:
        with self._lock:
            prepared = self._cache.get(execution_id)
            if prepared is not None:
                self._cache.move_to_end(execution_id)
                return prepared
        context = self.results.get(execution_id, EXECUTION_CONTEXT_KEY)
        if context is None:
            raise LookupError(f"execution '{execution_id}' has no stored context; was it prepared?")
        prepared = PreparedExecution(context, WorkflowDefinition.model_validate(context["definition"]))
        with self._lock:
            self._cache[execution_id] = prepared
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return prepared
