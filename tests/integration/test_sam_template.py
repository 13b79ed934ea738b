"""template.yaml: valid for CloudFormation + SAM, and coherent with functions/, statemachines/ and events/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.adapters.local.lambdas import LocalLambdas
from orchestrator.adapters.local.sam_template import load_sam_template
from orchestrator.asl import load_state_machine

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATE = load_sam_template(PROJECT / "template.yaml")

#: every function's sample event (sam local invoke -e, and the handler tests)
SAMPLE_EVENTS = {
    "StepRunnerFunction": "step_runner_event.json",
    "PauseGateFunction": "pause_gate_event.json",
    "SchedulerFunction": "scheduler_sqs_event.json",
    "ExecutionEventsFunction": "execution_status_change_event.json",
    "ReconcilerFunction": "reconciler_event.json",
    "TriggerFunction": "trigger_schedule_event.json",
    "ApiFunction": "api_list_workflows_event.json",
}


def test_cfn_lint_with_the_sam_transform_finds_nothing() -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or shutil.which("cfn-lint")
    if cfn_lint is None:
        pytest.skip("cfn-lint is not installed (pip install 'cfn-lint==1.53.3')")
    result = subprocess.run([cfn_lint, str(PROJECT / "template.yaml")], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "AWS_DEFAULT_REGION": "eu-west-1"})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.functions))
def test_every_function_has_its_handler_and_a_sample_event(logical_id: str) -> None:
    spec = TEMPLATE.functions[logical_id]
    handler = LocalLambdas(TEMPLATE).handler(logical_id)
    assert callable(handler), f"{spec.code_dir}/{spec.handler}"
    sample = PROJECT / "events" / SAMPLE_EVENTS[logical_id]
    assert isinstance(json.loads(sample.read_text()), dict)


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.state_machines))
def test_state_machines_load_and_every_task_retries_explicitly(logical_id: str) -> None:
    definition = TEMPLATE.definition(logical_id)
    load_state_machine(definition, name=logical_id)  # raises, listing every problem
    tasks = list(_tasks(definition))
    assert tasks, "a state machine without Lambda tasks needs no template"
    for name, task in tasks:
        assert task.get("Retry"), f"{logical_id}: Task '{name}' has no explicit Retry"
        assert "${" not in json.dumps(task), f"{logical_id}: '{name}' has an unresolved substitution"


def test_every_lambda_arn_comes_through_definition_substitutions() -> None:
    for spec in TEMPLATE.state_machines.values():
        raw = spec.definition_path.read_text()
        assert "arn:aws:lambda" not in raw, f"{spec.definition_path.name} hard-codes a function ARN"


def _tasks(states_owner: dict[str, Any]):
    for name, state in states_owner.get("States", {}).items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _tasks(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _tasks(state[key])
