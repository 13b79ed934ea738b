"""``loop`` and ``parallel`` steps: nested step lists run per item or per branch, inside one runner call.

Nested steps never sleep here (a Lambda must not idle): a nested step that fails with a retryable
error and attempts left is recorded as ``retrying`` and the whole structural step asks the state machine
for a retry after the longest of the nested delays. The next attempt re-runs only what is not done, so
items and branches that succeeded are never run twice.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.domain.planner import plan_steps
from orchestrator.services import cancellation
from orchestrator.services.cancellation import CANCELLED_ERROR
from orchestrator.services.retry_decision import retry_delay
from orchestrator.services.step_execution import StepEnvironment, evaluate_when, execute_step, render
from orchestrator.services.step_records import DONE_STATUSES, StepsView, is_top_level
from orchestrator.steps.base import StepError, StepResult

#: iterations or branches at once when the step sets no max_concurrency, and the most it may set: each is a
#: thread of the server, shared by every owner (3,000 items must not mean 3,000 threads). A loop or
#: parallel step nested in another runs its units one at a time: limits per level would multiply
DEFAULT_CONCURRENCY = 16
MAX_CONCURRENCY = 64


class RetryLater(Exception):
    """Some nested step will run again; the structural step must be retried after ``wait_seconds``."""

    def __init__(self, wait_seconds: int) -> None:
        super().__init__(f"nested steps will be retried in {wait_seconds}s")
        self.wait_seconds = wait_seconds


@dataclass
class _UnitOutcome:
    outputs: dict[str, Any]
    failure: StepError | None = None
    wait_seconds: int | None = None


def run_nested(step: Any, scope: Mapping[str, Any], env: StepEnvironment, key: str) -> StepResult:
    units = _units(step, scope, env, key)
    limit = min(getattr(step.config, "max_concurrency", None) or DEFAULT_CONCURRENCY, MAX_CONCURRENCY)
    if not is_top_level(key):
        # inside another loop or parallel: one unit at a time, or the limits would multiply per level
        limit = 1
    max_workers = max(1, min(len(units) or 1, limit))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"{step.id}") as pool:
        outcomes = list(pool.map(lambda unit: _run_unit(*unit, env), units))
    failures = [(index, outcome.failure) for index, outcome in enumerate(outcomes) if outcome.failure]
    if failures:
        index, first = failures[0]
        where = f"item {index}" if step.type == "loop" else f"branch {index}"
        raise StepError(first.error, f"{step.id} {where}: {first.cause}", retryable=False)
    waits = [outcome.wait_seconds for outcome in outcomes if outcome.wait_seconds is not None]
    if waits:
        raise RetryLater(max(waits))
    return StepResult(output=[outcome.outputs for outcome in outcomes])


def _units(step: Any, scope: Mapping[str, Any], env: StepEnvironment, key: str) -> list[tuple[list[Any], dict[str, Any], str]]:
    """(nested steps, scope, key prefix) for each loop item or parallel branch."""
    if step.type == "parallel":
        return [(branch, dict(scope), f"{key}.branches[{index}]") for index, branch in enumerate(step.config.branches)]
    items = render(step.config.items, scope, env)
    if not isinstance(items, list):
        raise StepError("Loop.ItemsNotAList", f"step '{step.id}': items rendered to {type(items).__name__}, not a list", retryable=False)
    name = step.config.item_var
    return [
        (step.config.steps, {**scope, "loop": {name: item, "item": item, "index": index}}, f"{key}[{index}]")
        for index, item in enumerate(items)
    ]


def _run_unit(steps: list[Any], scope: dict[str, Any], prefix: str, env: StepEnvironment) -> _UnitOutcome:
    local: dict[str, dict[str, Any]] = {}
    unit_scope = {**scope, "steps": StepsView(env.records, local)}
    outcome = _UnitOutcome(outputs={})
    for child in (step for group in plan_steps(steps) for step in group):
        if cancellation.is_cancelled(env.execution_id):  # the items not started yet never start
            outcome.failure = StepError(CANCELLED_ERROR, "the execution was cancelled", retryable=False)
            return outcome
        child_key = f"{prefix}.{child.id}"
        record = env.records.get(child_key)
        if record and (record["status"] in DONE_STATUSES or record.get("continued")):
            local[child.id] = record
        elif child.depends_on and all(local.get(dep, {}).get("status") == "skipped" for dep in child.depends_on):
            local[child.id] = _record(env, child_key, {"status": "skipped", "attempt": 0, "reason": "upstream skipped"})
        elif not evaluate_when(child, unit_scope):
            local[child.id] = _record(env, child_key, {"status": "skipped", "attempt": 0, "reason": "when is false"})
        else:
            attempt = (record or {}).get("attempt", 0) + 1
            try:
                result = execute_step(child, unit_scope, env, attempt, child_key)
            except RetryLater as later:  # a loop nested in a loop
                _record(env, child_key, {"status": "retrying", "attempt": attempt})
                outcome.wait_seconds = later.wait_seconds
                return outcome
            except StepError as error:
                delay = retry_delay(child.retry, error, attempt)
                failed = {"status": "retrying" if delay is not None else "failed", "attempt": attempt,
                          "error": error.error, "cause": error.cause}
                if delay is not None:
                    _record(env, child_key, failed)
                    outcome.wait_seconds = delay
                    return outcome
                if child.on_error == "continue":
                    local[child.id] = _record(env, child_key, {**failed, "continued": True, "output": None})
                    continue
                _record(env, child_key, failed)
                outcome.failure = error
                return outcome
            local[child.id] = _record(env, child_key, {
                "status": "succeeded", "attempt": attempt, "output": result.output, "logs": result.logs,
                "started_at": result.started_at, "finished_at": result.finished_at,
            })
        outcome.outputs[child.id] = local[child.id].get("output")
    return outcome


def _record(env: StepEnvironment, key: str, record: dict[str, Any]) -> dict[str, Any]:
    env.records.put(key, record)
    return record
