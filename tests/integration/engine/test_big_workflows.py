"""Plans too big for one execution run as child executions of the workflow state machine, locally
exactly as on AWS (statemachines/workflow.asl.json's RunParts, functions/plan_reader)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from engine_support import create_workflow, wait_for

from orchestrator.adapters.local.memory import MemoryBlobs, MemoryStepResultStore
from orchestrator.composition.local_engine import LocalEngine
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.services.step_runner import StepRunnerPorts


def layered(layers: int, width: int, *, failing: str | None = None) -> WorkflowDefinition:
    """``layers`` x ``width`` condition steps; each depends on one step of the layer above."""
    steps: list[dict[str, Any]] = []
    for number in range(layers * width):
        layer, position = divmod(number, width)
        step: dict[str, Any] = {"id": f"s{number}", "type": "condition", "config": {"expression": f"{number} >= 0"}}
        if layer:
            step["depends_on"] = [f"s{(layer - 1) * width + position}"]
        if f"s{number}" == failing:
            step["config"] = {"expression": "input.missing.field"}
        steps.append(step)
    return WorkflowDefinition.model_validate({"name": "big", "steps": steps})


def engine(steps_per_execution: int) -> LocalEngine:
    return LocalEngine(StepRunnerPorts(MemoryStepResultStore(), MemoryBlobs(), None),
                       steps_per_execution=steps_per_execution)


def test_a_plan_above_the_part_size_runs_as_child_executions_and_completes() -> None:
    # Given a 3 x 7 workflow and parts of at most 5 steps (so a layer is cut in two slices)
    definition = layered(3, 7)

    # When it runs
    run = engine(steps_per_execution=5).run(definition, {})

    # Then every step succeeded, in dependency order, and the parent's history shows the child executions
    assert run.status == "SUCCEEDED", run.cause
    assert {key: record["status"] for key, record in run.steps.items()} == {f"s{n}": "succeeded" for n in range(21)}
    for number in range(7, 21):
        upstream = run.steps[f"s{number - 7}"]
        assert run.steps[f"s{number}"]["started_at"] >= upstream["finished_at"]
    types = [event["type"] for event in run.history]
    assert types.count("TaskSubmitted") == 5  # 21 steps in parts of 5: 5 child executions
    assert "MapIterationStarted" in types


def test_a_failing_step_in_a_part_fails_the_execution_with_its_own_error() -> None:
    # Given a step in the third part that cannot evaluate its expression
    definition = layered(3, 4, failing="s10")

    # When it runs in parts of 4 steps
    run = engine(steps_per_execution=4).run(definition, {})

    # Then the execution fails with the step's error (not States.TaskFailed), and later steps never ran
    assert run.status == "FAILED"
    assert run.error != "States.TaskFailed" and run.error == run.steps["s10"]["error"]
    assert run.steps["s10"]["status"] == "failed"
    assert all(run.steps[f"s{n}"]["status"] == "succeeded" for n in range(8))


def test_a_small_plan_runs_in_one_execution() -> None:
    run = engine(steps_per_execution=500).run(layered(2, 3), {})

    assert run.status == "SUCCEEDED"
    assert "TaskSubmitted" not in [event["type"] for event in run.history]


@pytest.mark.slow
def test_a_5000_step_workflow_completes_on_the_local_interpreter() -> None:
    # Given 10 layers of 500 steps: ten parts of the default size
    definition = layered(10, 500)

    # When it runs through the same state machine as on AWS
    started = time.monotonic()
    run = LocalEngine(StepRunnerPorts(MemoryStepResultStore(), MemoryBlobs(), None)).run(definition, {})
    elapsed = time.monotonic() - started

    # Then all 5,000 steps succeeded, and no execution came near 25,000 history events
    assert run.status == "SUCCEEDED", run.cause
    assert len(run.steps) == 5000 and all(record["status"] == "succeeded" for record in run.steps.values())
    assert len(run.history) < 25_000
    print(f"5,000 steps in {elapsed:.1f} s")


def test_a_big_workflow_completes_through_the_engine_of_serve(runtime) -> None:
    # Given a 600-step workflow stored in the server's SQLite store (two parts of the default size)
    definition = layered(6, 100).model_dump(mode="json", exclude_none=True)
    workflow = create_workflow(runtime, definition)

    # When it is executed as the API would
    execution = runtime.executions.submit(workflow.id, input={}, owner_id="owner-1")
    done = wait_for(runtime, execution.id, lambda record: record.status.value in ("completed", "failed"), timeout=120)

    # Then it completed, with every step recorded once, and the parts left no execution record of their own
    assert done.status.value == "completed", done.error
    steps = runtime.store.list_step_executions(execution.id)
    assert len(steps) == 600 and {step.status.value for step in steps} == {"succeeded"}
    assert [record.id for record in runtime.store.list_executions(limit=10).items] == [execution.id]
