"""`orchestrator asl run`: raw ASL files on the local interpreter."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import orchestrator


def test_asl_run_prints_the_output() -> None:
    result = orchestrator("asl", "run", "statemachines/examples/hello.asl.json", "--input", '{"name": "Ada Lovelace"}')
    assert result.code == 0, result.stderr
    assert result.json() == {"name": "Ada Lovelace", "greeting": "Hello, Ada Lovelace!", "length": 2}


def test_asl_run_prints_error_and_cause_on_failure() -> None:
    result = orchestrator("asl", "run", "statemachines/examples/hello.asl.json", "--input", '{"name": ""}')
    assert result.code == 1
    failure = result.json()
    assert failure["status"] == "FAILED"
    assert failure["error"] == "Greeting.NoName"
    assert "say who to greet" in failure["cause"]


def test_asl_run_reaches_the_project_lambdas_through_template_arns(tmp_path: Path) -> None:
    # Given an ASL file whose Task invokes the StepRunner function by the ARN the local engine gives it,
    # with an execution that was never prepared (so the runner fails as Lambda would)
    definition = {
        "StartAt": "Run",
        "States": {"Run": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:local:000000000000:function:StepRunnerFunction",
            "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 0}],
            "End": True,
        }},
    }
    path = tmp_path / "runner.asl.json"
    path.write_text(json.dumps(definition))
    result = orchestrator("asl", "run", str(path), "--input", '{"execution": {"id": "nope"}, "step": {"id": "x"}}')
    # Then the handler really ran and its error surfaced with Lambda's error type
    assert result.code == 1
    failure = result.json()
    assert failure["error"] == "LookupError"
    assert "has no stored context" in failure["cause"]


def test_asl_run_rejects_an_invalid_definition_listing_problems(tmp_path: Path) -> None:
    path = tmp_path / "bad.asl.json"
    path.write_text(json.dumps({"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}))
    result = orchestrator("asl", "run", str(path))
    assert result.code == 2
    assert "Missing" in result.stderr
    assert "Nowhere" in result.stderr
