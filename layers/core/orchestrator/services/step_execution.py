"""Runs one step (leaf or structural) against a scope: render, validate config, execute, map output.

Executors receive rendered, validated config; everything they raise comes back as a classified
StepError whose texts are masked, so no secret reaches a log line, a stored record or an API answer.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrator.domain import templates
from orchestrator.domain.expressions import compile_expression, truthy
from orchestrator.observability import logger
from orchestrator.ports.secrets import Secrets
from orchestrator.services import cancellation
from orchestrator.services.step_records import StepRecords
from orchestrator.steps.base import StepContext, StepError, StepResult, StepTimeout
from orchestrator.steps.registry import get_executor

# Executors run on these threads so that a step's timeout holds even when an executor ignores it.
_EXECUTOR_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="step")


@dataclass
class StepEnvironment:
    """What every step of one runner invocation shares."""

    records: StepRecords
    secrets: Secrets | None
    execution_id: str
    workflow_dir: Path | None
    workflow_steps: dict[str, dict[str, Any]]
    secret_values: set[str] = field(default_factory=set)
    #: whose execution (None: the single-user run) and whether that is the operator (steps.base.StepContext)
    owner_id: str | None = None
    trusted: bool = False

    def mask(self, text: str) -> str:
        return templates.mask(text, self.secret_values) if self.secret_values else text

    def mask_value(self, value: Any) -> Any:
        if not self.secret_values:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping):  # keys too: a script may return {secret: 1}
            return {self.mask(key) if isinstance(key, str) else key: self.mask_value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.mask_value(item) for item in value]
        return value


def evaluate_when(step: Any, scope: Mapping[str, Any]) -> bool:
    if not step.when:
        return True
    try:
        return compile_expression(step.when).is_true(scope)
    except Exception as exc:  # a condition that cannot be evaluated is the step's failure, not a crash
        raise StepError("Step.ConditionError", f"when {step.when!r}: {exc}", retryable=False) from exc


def render(value: Any, scope: Mapping[str, Any], env: StepEnvironment, *, with_secrets: bool = True) -> Any:
    try:
        rendered = templates.render(value, scope, secrets=env.secrets.get if with_secrets and env.secrets else None)
    except templates.TemplateError as exc:
        raise StepError("Step.TemplateError", env.mask(str(exc)), retryable=False) from exc
    env.secret_values |= rendered.secret_values
    return rendered.value


def execute_step(step: Any, scope: Mapping[str, Any], env: StepEnvironment, attempt: int, key: str) -> StepResult:
    """One attempt of ``step``; raises StepError (classified) on failure."""
    started = time.time()
    if step.type == "condition":
        result = _condition(step, scope)
    elif step.type in ("loop", "parallel"):
        from orchestrator.services.nested_steps import run_nested  # nested steps call back into this module

        result = run_nested(step, scope, env, key)
    else:
        result = _leaf(step, scope, env, attempt, key)
    result.started_at = result.started_at or started
    result.finished_at = time.time()
    if step.output_mapping:
        # masked like the executor's own output: a mapping may name {{secrets.x}}, and outputs are stored
        result.output = env.mask_value(render(step.output_mapping, {**scope, "output": result.output}, env))
    return result


def _condition(step: Any, scope: Mapping[str, Any]) -> StepResult:
    expression = step.config.expression
    try:
        value = compile_expression(expression).evaluate(scope)
    except Exception as exc:
        raise StepError("Step.ConditionError", f"expression {expression!r}: {exc}", retryable=False) from exc
    return StepResult(output={"result": truthy(value), "value": value})


def _leaf(step: Any, scope: Mapping[str, Any], env: StepEnvironment, attempt: int, key: str) -> StepResult:
    executor = get_executor(step.type)
    if executor is None:
        raise StepError("Step.UnknownType", f"step '{step.id}': no executor for type '{step.type}'", retryable=False)
    raw_config = render(step.config, scope, env)
    inputs = render(step.input_mapping or {}, scope, env) if step.input_mapping else dict(scope.get("input") or {})
    try:
        config = executor.config_model.model_validate(raw_config)
    except ValidationError as exc:
        problems = "; ".join(f"config.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise StepError("Step.InvalidConfig", env.mask(f"step '{step.id}': {problems}"), retryable=False) from None
    with cancellation.watch(env.execution_id) as cancelled:  # set by a cancel of the execution
        ctx = StepContext(
            execution_id=env.execution_id,
            # the full key ("score[3].weigh" inside a loop): idempotency keys differ per iteration
            step_id=key,
            attempt=attempt,
            workflow_dir=env.workflow_dir,
            timeout_seconds=step.timeout,
            workflow_steps=env.workflow_steps,
            render=lambda value: render(value, scope, env),
            mask=env.mask,
            owner_id=env.owner_id,
            trusted=env.trusted,
            cancelled=cancelled,
        )
        return _run_with_timeout(lambda: executor.execute(config, inputs, ctx), step, env, ctx)


def _run_with_timeout(call: Callable[[], StepResult], step: Any, env: StepEnvironment, ctx: StepContext) -> StepResult:
    future = _EXECUTOR_THREADS.submit(call)
    try:
        result = future.result(timeout=step.timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise StepTimeout(f"step '{step.id}' did not finish within {step.timeout:g}s") from None
    except StepError as exc:
        exc.cause = env.mask(exc.cause)
        exc.output = env.mask_value(exc.output)
        raise
    except Exception as exc:
        logger.exception("step executor raised an unexpected error", extra={"step_id": step.id, "step_type": step.type})
        raise StepError("Step.UnexpectedError", env.mask(f"{type(exc).__name__}: {exc}"), retryable=False) from None
    extra_logs = [] if result.logs is ctx.logs else list(result.logs)
    result.logs = [env.mask(line) for line in ctx.logs + extra_logs]
    result.output = env.mask_value(result.output)
    return result
