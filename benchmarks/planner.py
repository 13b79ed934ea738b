"""How long planning takes on big workflows: ``.venv/bin/python benchmarks/planner.py``.

Builds WorkflowDefinition objects directly (no YAML), then times ``plan`` (and the whole validation of
the same workflow, which also checks references between steps) for a layered DAG and a long chain.
"""

from __future__ import annotations

import time

from orchestrator.domain.planner import plan
from orchestrator.domain.validation import validate_workflow
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.steps.registry import STEP_TYPES

STEPS = 10_000


def layered(steps: int, width: int = 100) -> dict:
    """``steps / width`` layers; each step depends on 3 steps of the layer before and reads one output."""
    raw_steps = []
    for number in range(steps):
        layer, position = divmod(number, width)
        step = {"id": f"s{number}", "type": "script", "config": {"code": "true"}, "priority": position % 7}
        if layer:
            upstream = [f"s{(layer - 1) * width + (position + k) % width}" for k in range(3)]
            step["depends_on"] = upstream
            step["input_mapping"] = {"previous": f"{{{{steps.{upstream[0]}.output.value}}}}"}
        raw_steps.append(step)
    return {"name": "layered", "steps": raw_steps}


def chain(steps: int) -> dict:
    """Every step depends on the one before it and reads its output."""
    raw_steps = [{"id": "s0", "type": "script", "config": {"code": "true"}}]
    for number in range(1, steps):
        raw_steps.append(
            {
                "id": f"s{number}",
                "type": "script",
                "config": {"code": "true"},
                "depends_on": [f"s{number - 1}"],
                "input_mapping": {"previous": f"{{{{steps.s{number - 1}.output}}}}"},
            }
        )
    return {"name": "chain", "steps": raw_steps}


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def main() -> None:
    for label, raw in (("layered DAG (100 wide)", layered(STEPS)), ("chain", chain(STEPS))):
        definition = WorkflowDefinition.model_validate(raw)
        groups, plan_seconds = timed(lambda definition=definition: plan(definition))
        problems, validate_seconds = timed(lambda raw=raw: validate_workflow(raw, STEP_TYPES))
        assert not problems, problems[:3]
        print(
            f"{label:24} {STEPS} steps -> {len(groups):5} groups   "
            f"plan {plan_seconds * 1000:7.1f} ms   validate_workflow {validate_seconds * 1000:7.1f} ms"
        )


if __name__ == "__main__":
    main()
