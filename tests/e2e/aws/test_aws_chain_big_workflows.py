"""A plan too big for one execution runs as child executions on Step Functions itself (moto), through the
real PlanReader and StepRunner functions: the same statemachines/workflow.asl.json as the local engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support.aws_chain import AwsChain, deploy, execute, execution

#: a small part size, so that a few dozen steps already make several parts (the default is 500)
STEPS_PER_EXECUTION = 10


@pytest.fixture(scope="module")
def chain() -> Iterator[AwsChain]:
    overrides = {"ORCHESTRATOR_STEPS_PER_EXECUTION": str(STEPS_PER_EXECUTION)}
    with AwsChain(env_overrides={name: overrides for name in ("SchedulerFunction", "ApiFunction",
                                                                "ExecutionEventsFunction")}) as deployed:
        yield deployed


def layered(layers: int, width: int, *, failing: str | None = None) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for number in range(layers * width):
        layer, position = divmod(number, width)
        expression = "input.missing.field" if f"s{number}" == failing else f"{number} >= 0"
        step: dict[str, Any] = {"id": f"s{number}", "type": "condition", "config": {"expression": expression}}
        if layer:
            step["depends_on"] = [f"s{(layer - 1) * width + position}"]
        steps.append(step)
    return {"name": f"big-{layers}x{width}", "steps": steps}


def part_executions(chain: AwsChain, execution_id: str) -> list[dict[str, Any]]:
    import boto3

    from support.aws_chain import REGION

    client = boto3.client("stepfunctions", region_name=REGION)
    machine = chain.describe(execution_id)["stateMachineArn"]
    listed = client.list_executions(stateMachineArn=machine)["executions"]
    return sorted((e for e in listed if e["name"].startswith(f"{execution_id}-part-")), key=lambda e: e["name"])


def test_a_plan_of_several_parts_completes_through_child_executions(chain: AwsChain) -> None:
    # Given a 3 x 9 workflow: 27 steps, three parts of at most 10
    workflow_id = deploy(chain, layered(3, 9))

    # When it is executed through the API
    execution_id = execute(chain, workflow_id)
    described = chain.run_to_end(execution_id, timeout=120)

    # Then the parent succeeded after three child executions, each succeeded, and every step succeeded once
    assert described["status"] == "SUCCEEDED", described
    parts = part_executions(chain, execution_id)
    assert [part["status"] for part in parts] == ["SUCCEEDED"] * 3
    detail = execution(chain, execution_id)
    assert detail["status"] == "completed"
    assert {step["step_id"]: step["status"] for step in detail["steps"]} == {f"s{n}": "succeeded" for n in range(27)}
    # and the parts' own status changes record nothing
    for part in parts:
        assert chain.report_status_change(part["name"]) == {"execution_id": part["name"], "recorded": False}


def test_a_failing_step_in_a_later_part_fails_the_execution_with_the_step_error(chain: AwsChain) -> None:
    # Given a step of the second part that cannot evaluate its expression
    workflow_id = deploy(chain, layered(2, 10, failing="s14"))

    # When it runs
    execution_id = execute(chain, workflow_id)
    described = chain.run_to_end(execution_id, timeout=120)

    # Then the parent failed with the step's own error, not States.TaskFailed
    assert described["status"] == "FAILED"
    detail = execution(chain, execution_id)
    assert detail["status"] == "failed"
    failed = {step["step_id"]: step for step in detail["steps"]}["s14"]
    assert failed["status"] == "failed"
    assert detail["error"] == failed["error"] != "States.TaskFailed"
