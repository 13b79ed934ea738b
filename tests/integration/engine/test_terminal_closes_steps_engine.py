"""Issue 7: a terminal execution leaves no step non-terminal (pending, running, retrying).

Two parallel steps: ``a`` fails (not retryable), ``b`` fails retryably with a 30 s retry delay. The Map of
statemachines/workflow.asl.json fails with ``a`` and stops ``b``'s iteration (its Wait before the retry
included, as on AWS), so no test here waits 30 s; the end of the execution then closes ``b``: it becomes
``cancelled`` (error ``Orchestrator.Cancelled``, a cause that says why), on the local engine of
`orchestrator serve`, in the API's answer, and on the one-shot engine of `orchestrator run` and its table.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from engine_support import create_workflow, wait_for
from fastapi.testclient import TestClient
from rich.console import Console

from orchestrator.adapters.local.memory import MemoryBlobs, MemoryStepResultStore
from orchestrator.api import create_app
from orchestrator.api.auth import issue_api_key
from orchestrator.cli.live_view import LiveStepView
from orchestrator.composition.local_engine import LocalEngine
from orchestrator.domain.lifecycle import is_terminal
from orchestrator.domain.records import ExecutionStatus, StepStatus
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.services.step_runner import StepRunnerPorts
from orchestrator.settings import Settings

PROJECT = Path(__file__).resolve().parents[3]
LONG_RETRY = {"max_attempts": 3, "initial_delay": "30s", "retry_on": ["Script"]}


def _script(step_id: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "script", "config": {"runtime": "python", "code": code}, **extra}


def _two_failing_steps(a_delay: float = 0.0, b_delay: float = 0.0, name: str = "issue-7") -> dict[str, Any]:
    """``a`` fails for good after ``a_delay`` s; ``b`` fails retryably (30 s before its retry) after ``b_delay`` s."""
    return {"name": name, "steps": [
        _script("a", f"import sys,time; time.sleep({a_delay}); sys.exit(3)"),
        _script("b", f"import sys,time; time.sleep({b_delay}); sys.exit(4)", retry=LONG_RETRY),
    ]}


def _steps(runtime, execution_id: str) -> dict[str, Any]:
    return {step.step_id: step for step in runtime.store.list_step_executions(execution_id)}


def _wait_for_steps(runtime, execution_id: str, done, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        steps = _steps(runtime, execution_id)
        if done(steps):
            return steps
        time.sleep(0.02)
    return _steps(runtime, execution_id)


# -- orchestrator serve: the local engine and its control plane ------------------------------------------------


def test_a_failed_sibling_closes_the_step_waiting_for_its_retry(runtime) -> None:
    # Given a workflow whose step b waits 30 s for its retry when its sibling a fails
    workflow = create_workflow(runtime, _two_failing_steps(a_delay=0.5))
    started = time.monotonic()
    # When it runs
    execution = runtime.executions.submit(workflow.id)
    done = wait_for(runtime, execution.id, lambda r: is_terminal(r.status), timeout=20)
    # Then it fails with a's error, without waiting for b's retry (the Map stopped b's Wait)
    assert done.status is ExecutionStatus.FAILED
    assert done.error == "Script.ExitCode"
    assert time.monotonic() - started < 20
    # And no step is left non-terminal: a failed, b (retrying when a failed) is cancelled, and says why
    steps = _steps(runtime, execution.id)
    assert {key: step.status for key, step in steps.items()} == {"a": StepStatus.FAILED, "b": StepStatus.CANCELLED}
    b = steps["b"]
    assert b.error == "Orchestrator.Cancelled"
    assert b.cause is not None and "failed before" in b.cause and "step 'a' failed" in b.cause
    assert b.attempt == 1 and b.ended_at is not None
    # And b's failed attempt stays in its logs
    logs = [line.message for line in runtime.store.list_logs(execution.id, step_id="b")]
    assert any("attempt 1: Script.ExitCode" in line for line in logs), logs

    # When the API is asked for the execution
    client = TestClient(create_app(runtime.store, runtime.executions, Settings(admin_api_key="ork_admin-issue-7")))
    _, key = issue_api_key(runtime.store, "owner-1")
    answer = client.get(f"/api/v1/executions/{execution.id}", headers={"X-API-Key": key})
    # Then its step list says the same
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "failed"
    assert {step["step_id"]: step["status"] for step in body["steps"]} == {"a": "failed", "b": "cancelled"}


def test_a_retry_reported_after_the_end_does_not_reopen_the_step(runtime) -> None:
    # Given a workflow whose step b is still running its first attempt when its sibling a fails
    workflow = create_workflow(runtime, _two_failing_steps(b_delay=1.0))
    execution = runtime.executions.submit(workflow.id)
    done = wait_for(runtime, execution.id, lambda r: is_terminal(r.status), timeout=20)
    assert done.status is ExecutionStatus.FAILED
    # When b's attempt then ends with a retryable failure and reports "retrying" (its thread, like a Lambda
    # that Step Functions stopped waiting for, runs to its end)
    wait_for(runtime, execution.id,
             lambda r: (runtime.store.step_results.get(r.id, "b") or {}).get("status") == "retrying", timeout=20)
    steps = _wait_for_steps(runtime, execution.id, lambda s: "b" in s and s["b"].status is StepStatus.CANCELLED, timeout=3)
    # Then b is closed again at once: the late report does not reopen it
    assert {key: step.status for key, step in steps.items()} == {"a": StepStatus.FAILED, "b": StepStatus.CANCELLED}
    assert "step 'a' failed" in (steps["b"].cause or "")


def test_cancel_closes_the_running_step_and_the_step_waiting_for_its_retry(runtime) -> None:
    # Given a running execution: step b waits 30 s for its retry, step c runs (for 3 s)
    workflow = create_workflow(runtime, {"name": "cancel-me", "steps": [
        _script("b", "import sys; sys.exit(4)", retry=LONG_RETRY), _script("c", "import time; time.sleep(3)")]})
    execution = runtime.executions.submit(workflow.id)
    _wait_for_steps(runtime, execution.id, lambda s: len(s) == 2 and s["b"].status is StepStatus.RETRYING
                    and s["c"].status is StepStatus.RUNNING)
    # When it is cancelled
    runtime.executions.cancel(execution.id)
    # Then both steps are cancelled at once, with the error of a cancelled step and a cause
    steps = _steps(runtime, execution.id)
    assert {key: step.status for key, step in steps.items()} == {"b": StepStatus.CANCELLED, "c": StepStatus.CANCELLED}
    assert {step.error for step in steps.values()} == {"Orchestrator.Cancelled"}
    assert steps["b"].cause == "the execution was cancelled before attempt 2 of this step could run"
    assert steps["c"].cause


def test_retrying_the_failed_execution_still_reuses_what_succeeded(runtime) -> None:
    # Given a failed execution: ok succeeded, a failed, b was waiting for its retry (now cancelled)
    ok = _script("ok", "import json,time; print(json.dumps({'ran_at': time.time_ns()}))")
    workflow = create_workflow(runtime, {"name": "retry-me", "steps": [
        ok, _script("a", "import sys,time; time.sleep(0.5); sys.exit(3)"),
        _script("b", "import sys; sys.exit(4)", retry=LONG_RETRY)]})
    first = runtime.executions.submit(workflow.id)
    failed = wait_for(runtime, first.id, lambda r: is_terminal(r.status), timeout=20)
    assert failed.status is ExecutionStatus.FAILED
    assert _steps(runtime, first.id)["b"].status is StepStatus.CANCELLED
    # When a and b are fixed in a new version and the execution is retried on it
    runtime.store.update_workflow(workflow.id, definition={"name": "retry-me", "steps": [
        ok, _script("a", "print('{}')"), _script("b", "print('{}')", retry=LONG_RETRY)]})
    retried = runtime.executions.retry(first.id, version="latest")
    done = wait_for(runtime, retried.id, lambda r: is_terminal(r.status), timeout=20)
    # Then it completes, a and b ran again, and ok's output is the first run's (reused, not run again)
    assert done.status is ExecutionStatus.COMPLETED, (done.error, done.cause)
    assert done.output == {"ok": failed.output["ok"], "a": {}, "b": {}}
    assert {step.step_id: step.status for step in runtime.store.list_step_executions(retried.id)} == {
        "ok": StepStatus.SUCCEEDED, "a": StepStatus.SUCCEEDED, "b": StepStatus.SUCCEEDED}


# -- orchestrator run: the one-shot engine and its live table --------------------------------------------------


def test_the_one_shot_engine_closes_the_step_waiting_for_its_retry() -> None:
    # Given the one-shot engine of `orchestrator run` and the live table of its steps
    engine = LocalEngine(StepRunnerPorts(MemoryStepResultStore(), MemoryBlobs(), None))
    definition = WorkflowDefinition.model_validate(_two_failing_steps(a_delay=0.5))
    out = io.StringIO()
    reports: list[tuple[str, str]] = []

    def on_step(step_id: str, status: str, outcome: dict[str, Any] | None) -> None:
        reports.append((step_id, status))
        view.on_step(step_id, status, outcome)

    started = time.monotonic()
    # When the workflow runs
    with LiveStepView(definition, Console(file=out, width=200, force_terminal=False)) as view:
        result = engine.run(definition, {}, on_step=on_step)
    # Then it fails with a's error without waiting for b's retry
    assert result.status == "FAILED" and result.error == "Script.ExitCode"
    assert time.monotonic() - started < 20
    # And the run's step records are all final: b is cancelled, and says why
    assert {key: record["status"] for key, record in result.steps.items()} == {"a": "failed", "b": "cancelled"}
    assert result.steps["b"]["error"] == "Orchestrator.Cancelled"
    assert "step 'a' failed" in result.steps["b"]["cause"]
    # And the listener heard b's closing, and the table shows it
    assert reports[-1] == ("b", "cancelled")
    assert view.statuses() == {"a": "failed", "b": "cancelled"}


def test_the_live_table_closes_the_rows_the_engine_never_reported() -> None:
    # Given a live table where one step was reported running and another never started
    definition = WorkflowDefinition.model_validate({"name": "t", "steps": [
        _script("first", "print('{}')"), _script("second", "print('{}')", depends_on=["first"])]})
    view = LiveStepView(definition, Console(file=io.StringIO(), width=200, force_terminal=False))
    with view:
        view.on_step("first", "running", None)
    # When the run ends (the table is closed) Then no row is left pending or running
    assert view.statuses() == {"first": "cancelled", "second": "cancelled"}


@pytest.mark.slow
def test_orchestrator_run_shows_the_closed_step_in_its_table(tmp_path: Path) -> None:
    # Given the workflow in a file
    import json

    file = tmp_path / "workflow.json"
    file.write_text(json.dumps(_two_failing_steps(a_delay=0.5)))
    # When `orchestrator run` runs it
    completed = subprocess.run([sys.executable, "-m", "orchestrator.cli", "run", str(file)], cwd=PROJECT,
                               capture_output=True, text=True, timeout=60,
                               env={**os.environ, "ORCHESTRATOR_HOME": str(tmp_path / "home")})
    # Then it fails, and its table's final row for b says cancelled, not retry
    assert completed.returncode == 1, completed.stderr
    rows = [line for line in completed.stderr.splitlines() if line.strip().startswith(("│ b ", "| b ", "b "))]
    assert rows and "cancelled" in rows[-1] and "retry" not in rows[-1], completed.stderr
