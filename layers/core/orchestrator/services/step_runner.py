"""The StepRunner use case: one attempt of one top-level step of one execution.

Idempotent on (execution, step, attempt): a step whose record says it is done is never run again, so a
redelivered invocation, a Lambda retry or a resumed execution cannot repeat a side effect that finished.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.domain.tenancy import is_operator
from orchestrator.observability import logger, metrics
from orchestrator.ports.blobs import Blobs
from orchestrator.ports.execution_control import ExecutionControl, StepObserver
from orchestrator.ports.secrets import SecretResolver
from orchestrator.ports.step_results import StepResultStore
from orchestrator.services.cancellation import CANCELLED_ERROR
from orchestrator.services.nested_steps import RetryLater
from orchestrator.services.prepared_executions import PreparedExecutions
from orchestrator.services.retry_decision import retry_delay
from orchestrator.services.step_execution import StepEnvironment, evaluate_when, execute_step
from orchestrator.services.step_records import DONE_STATUSES, StepRecords, StepsView
from orchestrator.steps.base import StepError


class ExecutionRef(BaseModel):
    id: str


class StepRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str


class StepRunRequest(BaseModel):
    """The Map item of statemachines/workflow.asl.json."""

    execution: ExecutionRef
    step: StepRef
    attempt: int = Field(default=1, ge=1)


class StepOutcome(BaseModel):
    """What the state machine's Choice reads: small, never the step's output."""

    model_config = ConfigDict(populate_by_name=True)

    step_id: str
    status: Literal["succeeded", "skipped", "failed", "retry", "paused"]
    attempt: int
    next_attempt: int | None = None
    wait_seconds: int | None = None
    error: str | None = None
    cause: str | None = None
    continue_: bool = Field(default=False, alias="continue")

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


@dataclass
class StepRunnerPorts:
    results: StepResultStore
    blobs: Blobs
    #: each execution reads its own owner's secrets (None: no secrets at all)
    secrets: SecretResolver | None
    inline_limit: int = 200 * 1024
    control: ExecutionControl | None = None
    observer: StepObserver | None = None
    #: parsed contexts of the executions this process runs steps of (made from ``results`` when not given)
    prepared: PreparedExecutions | None = None

    def __post_init__(self) -> None:
        if self.prepared is None:
            self.prepared = PreparedExecutions(self.results)


def run_step(request: StepRunRequest, ports: StepRunnerPorts) -> StepOutcome:
    outcome = _run_step(request, ports)
    # one metric per outcome: StepSucceeded, StepFailed, StepRetry, StepSkipped
    metrics.add_metric(name=f"Step{outcome.status.capitalize()}", unit=MetricUnit.Count, value=1)
    return outcome


def _run_step(request: StepRunRequest, ports: StepRunnerPorts) -> StepOutcome:
    execution_id, step_id, attempt = request.execution.id, request.step.id, request.attempt
    records = StepRecords(ports.results, ports.blobs, execution_id, ports.inline_limit, ports.observer)
    assert ports.prepared is not None  # set by __post_init__
    prepared = ports.prepared.get(execution_id)
    context, definition = prepared.context, prepared.definition
    step = definition.step(step_id)

    previous = records.get(step_id)
    if previous is not None and (previous["status"] in DONE_STATUSES or previous.get("continued")):
        records.report_again(step_id)  # this delivery may be the replay after a crash that lost the report
        return _outcome_of(step_id, previous)
    status = ports.control.execution_status(execution_id) if ports.control is not None else None
    if status == "paused":
        # no new step starts while paused: the state machine parks this one at its pause gate
        return StepOutcome(step_id=step_id, status="paused", attempt=attempt)
    if status == "cancelled":
        return StepOutcome(step_id=step_id, status="failed", attempt=attempt, error=CANCELLED_ERROR,
                           cause="the execution was cancelled")

    scope = {
        "variables": {**definition.variables, **context.get("variables", {})},
        "input": context.get("input", {}),
        "execution": {"id": execution_id, "workflow": definition.name},
        "steps": StepsView(records),
    }
    owner_id = context.get("owner_id")
    env = StepEnvironment(
        records=records,
        secrets=ports.secrets.for_owner(owner_id) if ports.secrets is not None else None,
        execution_id=execution_id,
        owner_id=owner_id,
        trusted=is_operator(owner_id),
        workflow_dir=Path(context["workflow_dir"]) if context.get("workflow_dir") else None,
        workflow_steps=prepared.workflow_steps,
    )
    started = time.time()
    records.put(step_id, {"status": "running", "attempt": attempt, "started_at": started})
    try:
        skip_reason = _skip_reason(step, scope, records)
        if skip_reason:
            records.put(step_id, {"status": "skipped", "attempt": attempt, "reason": skip_reason,
                                  "started_at": started, "finished_at": time.time()})
            return StepOutcome(step_id=step_id, status="skipped", attempt=attempt)
        result = execute_step(step, scope, env, attempt, step_id)
    except RetryLater as later:
        records.put(step_id, {"status": "retrying", "attempt": attempt, "started_at": started})
        return StepOutcome(step_id=step_id, status="retry", attempt=attempt, next_attempt=attempt + 1,
                           wait_seconds=later.wait_seconds)
    except StepError as error:
        if error.error == CANCELLED_ERROR:  # the execution was cancelled while the step ran: it was stopped
            records.put(step_id, {"status": "cancelled", "attempt": attempt, "error": error.error,
                                  "cause": error.cause, "started_at": started, "finished_at": time.time()})
            return StepOutcome(step_id=step_id, status="failed", attempt=attempt, error=error.error, cause=error.cause)
        return _failed(step, error, attempt, started, records, env)
    records.put(step_id, {"status": "succeeded", "attempt": attempt, "output": result.output, "logs": result.logs,
                          "started_at": result.started_at, "finished_at": result.finished_at})
    return StepOutcome(step_id=step_id, status="succeeded", attempt=attempt)


def _skip_reason(step: Any, scope: dict[str, Any], records: StepRecords) -> str | None:
    # a step whose every upstream step was skipped is on a branch not taken
    if step.depends_on and all((records.get(dep) or {}).get("status") == "skipped" for dep in step.depends_on):
        return "upstream skipped"
    if not evaluate_when(step, scope):
        return "when is false"
    return None


def _failed(step: Any, error: StepError, attempt: int, started: float, records: StepRecords,
            env: StepEnvironment) -> StepOutcome:
    delay = retry_delay(step.retry, error, attempt)
    record = {"status": "retrying" if delay is not None else "failed", "attempt": attempt, "error": error.error,
              "cause": error.cause, "output": env.mask_value(error.output), "started_at": started,
              "finished_at": time.time()}
    if delay is not None:
        records.put(step.id, record)
        logger.info("step will be retried", extra={"step_id": step.id, "attempt": attempt, "wait_seconds": delay,
                                                   "error": error.error})
        return StepOutcome(step_id=step.id, status="retry", attempt=attempt, next_attempt=attempt + 1,
                           wait_seconds=delay, error=error.error, cause=error.cause)
    continued = step.on_error == "continue"
    records.put(step.id, {**record, "continued": continued})
    logger.info("step failed", extra={"step_id": step.id, "attempt": attempt, "error": error.error,
                                      "continue": continued})
    return StepOutcome(step_id=step.id, status="failed", attempt=attempt, error=error.error, cause=error.cause,
                       continue_=continued)


def _outcome_of(step_id: str, record: dict[str, Any]) -> StepOutcome:
    status = "failed" if record["status"] == "failed" else record["status"]
    return StepOutcome(step_id=step_id, status=status, attempt=record.get("attempt", 1), error=record.get("error"),
                       cause=record.get("cause"), continue_=bool(record.get("continued")))
