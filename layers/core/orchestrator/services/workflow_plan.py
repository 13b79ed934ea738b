"""A workflow compiled into the plan that statemachines/workflow.asl.json takes as its input."""

from __future__ import annotations

import math
from typing import Any

from orchestrator.domain.planner import plan
from orchestrator.domain.workflow import WorkflowDefinition

#: Lambda's own limit: a step without a timeout may run as long as its function may
LAMBDA_TIMEOUT_SECONDS = 900
#: room for the runner's own work around the executor's timeout
RUNNER_MARGIN_SECONDS = 30
#: Map's MaxConcurrency 0 means "no limit"
UNLIMITED = 0


def task_timeout_seconds(step: Any) -> int:
    if step.timeout is None:
        return LAMBDA_TIMEOUT_SECONDS
    return min(LAMBDA_TIMEOUT_SECONDS, math.ceil(step.timeout) + RUNNER_MARGIN_SECONDS)


def build_plan(definition: WorkflowDefinition, execution_id: str) -> dict[str, Any]:
    """Only ids and limits: step definitions stay in the store, so the payload is small at any size."""
    return {
        "execution": {"id": execution_id},
        "max_concurrency": definition.max_concurrency or UNLIMITED,
        "groups": [
            {"index": index, "steps": [{"id": step.id, "task_timeout_seconds": task_timeout_seconds(step)} for step in group]}
            for index, group in enumerate(plan(definition))
        ],
    }


def execution_context(definition: WorkflowDefinition, execution_input: Any, *, variables: dict[str, Any] | None = None,
                      workflow_dir: str | None = None, owner_id: str | None = None) -> dict[str, Any]:
    """The record the step runner reads first: the pinned definition, the input, variable overrides and
    whose execution it is (its secrets, its sandbox; None only for the single-user ``orchestrator run``)."""
    return {
        "owner_id": owner_id,
        "definition": definition.model_dump(mode="json", exclude_none=True, by_alias=True),
        "input": execution_input,
        "variables": variables or {},
        "workflow_dir": workflow_dir,
    }
