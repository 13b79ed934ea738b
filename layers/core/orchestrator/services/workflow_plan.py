"""A workflow compiled into the plan that statemachines/workflow.asl.json takes as its input.

A plan travels by reference as soon as it is big: one Standard execution holds at most 25,000 history
events (a step costs about 11, a retry about 8 more) and 256 KiB of input. Up to ``STEPS_PER_EXECUTION``
steps, the plan's groups are the execution's input. Above it, the input only names the plan's *parts*
(``{"index": k, "steps_per_execution": n}``); the state machine runs each part as a child execution of
itself, one after another, after the PlanReader function has read that part's groups (``plan_parts``). A part is a
run of whole groups, and a group bigger than a part is cut into consecutive slices: the slices of one
group run one after another, which keeps every dependency (a group only depends on groups before it).
"""

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
#: steps one execution runs itself: 500 x ~11 events leaves room for 3 retries per step under 25,000 events
STEPS_PER_EXECUTION = 500
#: a part's child execution is named ``<execution id><PART_MARK><index>`` (never a valid execution id)
PART_MARK = "-part-"

#: a part of the plan: its groups, each ``{"index": i, "steps": [{"id", "task_timeout_seconds"}, ...]}``
PlanPart = list[dict[str, Any]]


def task_timeout_seconds(step: Any) -> int:
    if step.timeout is None:
        return LAMBDA_TIMEOUT_SECONDS
    return min(LAMBDA_TIMEOUT_SECONDS, math.ceil(step.timeout) + RUNNER_MARGIN_SECONDS)


def build_plan(definition: WorkflowDefinition, execution_id: str,
               steps_per_execution: int = STEPS_PER_EXECUTION) -> dict[str, Any]:
    """Only ids and limits: step definitions stay in the store, and a big plan only names its parts."""
    parts = plan_parts(definition, steps_per_execution)
    head: dict[str, Any] = {
        "execution": {"id": execution_id},
        "max_concurrency": definition.max_concurrency or UNLIMITED,
    }
    if len(parts) == 1:
        return {**head, "groups": parts[0]}
    return {**head, "parts": [{"index": index, "steps_per_execution": steps_per_execution}
                              for index in range(len(parts))]}


def plan_parts(definition: WorkflowDefinition, steps_per_execution: int = STEPS_PER_EXECUTION) -> list[PlanPart]:
    """The plan's groups cut into parts of at most ``steps_per_execution`` steps (see the module's doc)."""
    parts: list[PlanPart] = [[]]
    room = steps_per_execution
    index = 0
    for group in plan(definition):
        steps = [{"id": step.id, "task_timeout_seconds": task_timeout_seconds(step)} for step in group]
        while steps:
            if room == 0:
                parts.append([])
                room = steps_per_execution
            taken, steps = steps[:room], steps[room:]
            parts[-1].append({"index": index, "steps": taken})
            index += 1
            room -= len(taken)
    return parts


def part_execution_name(execution_id: str, index: int) -> str:
    return f"{execution_id}{PART_MARK}{index}"


def is_part_execution(name: str) -> bool:
    return PART_MARK in name


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
