"""Which step results a retry may reuse: outputs of steps that succeeded and whose definition is the same."""

from __future__ import annotations

from typing import Any

from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.services.step_records import EXECUTION_CONTEXT_KEY

_REUSABLE = frozenset({"succeeded"})


def _top_level_id(step_key: str) -> str:
    return step_key.split("[", 1)[0].split(".", 1)[0]


def downstream_of(definition: WorkflowDefinition, step_id: str) -> set[str]:
    """The step and every top-level step that depends on it, directly or not."""
    dependents: dict[str, set[str]] = {}
    for step in definition.steps:
        for dependency in step.depends_on:
            dependents.setdefault(dependency, set()).add(step.id)
    found, pending = {step_id}, [step_id]
    while pending:
        for dependent in dependents.get(pending.pop(), ()):
            if dependent not in found:
                found.add(dependent)
                pending.append(dependent)
    return found


def reusable_records(
    records: dict[str, dict[str, Any]],
    old: WorkflowDefinition,
    new: WorkflowDefinition,
    *,
    rerun: set[str] = frozenset(),  # type: ignore[assignment]
) -> dict[str, dict[str, Any]]:
    """The records of ``old``'s run that a run of ``new`` can take as they are.

    Nested records (``loop[3].step``) of a failed loop are kept too: its finished items are not run again.
    A step whose definition changed between the versions runs again, and so does everything in ``rerun``.
    """
    old_steps = {step.id: step for step in old.steps}
    new_steps = {step.id: step for step in new.steps}
    unchanged = {
        step_id for step_id, step in new_steps.items()
        if step_id in old_steps and old_steps[step_id].model_dump() == step.model_dump() and step_id not in rerun
    }
    return {
        key: record for key, record in records.items()
        if key != EXECUTION_CONTEXT_KEY and not key.startswith("$")
        and record.get("status") in _REUSABLE and _top_level_id(key) in unchanged
    }
