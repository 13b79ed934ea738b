"""The local engine: workflows run by the project's ASL interpreter on statemachines/workflow.asl.json,
with Lambda Tasks resolved to the in-process handlers of functions/<name>/app.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.adapters.local.lambdas import LocalLambdas
from orchestrator.adapters.local.project import project_root
from orchestrator.adapters.local.sam_template import load_sam_template
from orchestrator.asl import Interpreter, load_state_machine
from orchestrator.asl.checkpoints import MemoryCheckpointStore
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.ports.checkpoints import CheckpointStore
from orchestrator.services.plan_reader import PlanReader
from orchestrator.services.step_closing import close_unfinished_results
from orchestrator.services.step_records import EXECUTION_CONTEXT_KEY, StepRecords, is_top_level
from orchestrator.services.step_runner import StepRunnerPorts
from orchestrator.services.workflow_plan import STEPS_PER_EXECUTION, build_plan, execution_context

WORKFLOW_STATE_MACHINE = "WorkflowStateMachine"
STEP_RUNNER_FUNCTION = "StepRunnerFunction"
PLAN_READER_FUNCTION = "PlanReaderFunction"

class UnknownRun(LookupError):
    """No run of that id to resume here, or one that cannot be resumed."""


#: (step id, "running" | outcome status, outcome payload or None)
StepListener = Callable[[str, str, dict[str, Any] | None], None]


@dataclass
class WorkflowRun:
    execution_id: str
    status: str  # the state machine's: SUCCEEDED | FAILED | ABORTED | TIMED_OUT
    error: str | None
    cause: str | None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def outputs(self) -> dict[str, Any]:
        """Each top-level step's output (None for skipped steps)."""
        return {step_id: record.get("output") for step_id, record in self.steps.items() if is_top_level(step_id)}


class LocalEngine:
    def __init__(self, ports: StepRunnerPorts, *, root: Path | None = None, clock: Any = None,
                 checkpoints: CheckpointStore | None = None, steps_per_execution: int = STEPS_PER_EXECUTION,
                 location: str = "memory") -> None:
        self.ports = ports
        #: where runs are kept (a path, or "memory"), for messages
        self.location = location
        self.checkpoints: CheckpointStore = checkpoints if checkpoints is not None else MemoryCheckpointStore()
        self.steps_per_execution = steps_per_execution
        template = load_sam_template((root or project_root()) / "template.yaml")
        self._lambdas = LocalLambdas(template)
        step_runner = self._lambdas.handler(STEP_RUNNER_FUNCTION)
        # the same handler, given this engine's stores instead of the process-wide ones
        self._lambdas.override(STEP_RUNNER_FUNCTION, lambda event, context: step_runner(event, context, ports=ports))
        plan_reader, reader = self._lambdas.handler(PLAN_READER_FUNCTION), PlanReader(ports.prepared)
        self._lambdas.override(PLAN_READER_FUNCTION, lambda event, context: plan_reader(event, context, reader=reader))
        self._listeners: dict[str, StepListener] = {}
        self.interpreter = Interpreter(invoke=self._invoke, clock=clock, checkpoints=self.checkpoints)
        self.machine = load_state_machine(template.definition(WORKFLOW_STATE_MACHINE))

    def _invoke(self, function: str, payload: Any) -> Any:
        listener = self._listeners.get(payload.get("execution", {}).get("id", "")) if isinstance(payload, dict) else None
        step_id = payload.get("step", {}).get("id") if listener else None
        if listener and step_id:
            listener(step_id, "running", None)
        outcome = self._lambdas.invoke(function, payload)
        if listener and step_id:
            listener(step_id, outcome.get("status", "unknown"), outcome)
        return outcome

    def prepare(self, definition: WorkflowDefinition, execution_input: Any, *, execution_id: str | None = None,
                variables: dict[str, Any] | None = None, workflow_dir: Path | None = None) -> tuple[str, dict[str, Any]]:
        """Stores the execution's context and returns (execution id, plan)."""
        execution_id = execution_id or str(uuid.uuid4())
        context = execution_context(definition, execution_input, variables=variables,
                                    workflow_dir=str(workflow_dir) if workflow_dir else None)
        self.ports.results.put(execution_id, EXECUTION_CONTEXT_KEY, context)
        return execution_id, build_plan(definition, execution_id, self.steps_per_execution)

    def run(self, definition: WorkflowDefinition, execution_input: Any, *, execution_id: str | None = None,
            variables: dict[str, Any] | None = None, workflow_dir: Path | None = None,
            on_step: StepListener | None = None) -> WorkflowRun:
        execution_id, plan = self.prepare(definition, execution_input, execution_id=execution_id,
                                          variables=variables, workflow_dir=workflow_dir)
        if on_step is not None:
            self._listeners[execution_id] = on_step
        try:
            result = self.interpreter.run(self.machine, plan, name=execution_id)
        finally:
            self._listeners.pop(execution_id, None)
        return self.finish_run(execution_id, result, on_step)

    def finish_run(self, execution_id: str, result: Any, on_step: StepListener | None) -> WorkflowRun:
        run = self.collect(execution_id, result)
        # the ended run leaves no step open (services/step_closing.py): a step whose Map iteration was stopped
        # (e.g. waiting for its retry when a sibling failed) is cancelled; an attempt that reports after this
        # cannot change the returned run
        closed = close_unfinished_results(self.ports.results, execution_id, result.status, result.error, run.steps)
        run.steps.update(closed)
        for key, record in closed.items():
            if on_step is not None and is_top_level(key):
                on_step(key, "cancelled", record)
        return run

    def resume(self, execution_id: str, *, on_step: StepListener | None = None) -> WorkflowRun:
        """Continue a run that a killed process left unfinished; succeeded steps are not run again (their
        outcomes replay from the checkpoints). A run that had ended is returned as it ended."""
        execution_arn = self.machine.execution_arn(execution_id)
        if execution_arn not in self.checkpoints.unfinished():
            ended = self.interpreter.ended(execution_arn)
            if ended is None:
                raise UnknownRun(f"no run '{execution_id}' in this home (runs are kept in {self.location})")
            return self.collect(execution_id, ended)
        if on_step is not None:
            self._listeners[execution_id] = on_step
        try:
            handle = self.interpreter.resume_one(execution_arn, self.machine)
            if handle is None:
                raise UnknownRun(f"run '{execution_id}' cannot be resumed: statemachines/workflow.asl.json "
                                 "changed since it started")
            result = handle.wait()
        finally:
            self._listeners.pop(execution_id, None)
        return self.finish_run(execution_id, result, on_step)

    def step_records(self, execution_id: str) -> dict[str, dict[str, Any]]:
        """The top-level steps recorded so far (what a resumed run's live view starts from)."""
        return {key: record for key, record in self.ports.results.all(execution_id).items()
                if key != EXECUTION_CONTEXT_KEY and not key.startswith("$") and is_top_level(key)}

    def definition_of(self, execution_id: str) -> WorkflowDefinition:
        assert self.ports.prepared is not None
        return self.ports.prepared.get(execution_id).definition

    def collect(self, execution_id: str, result: Any) -> WorkflowRun:
        records = StepRecords(self.ports.results, self.ports.blobs, execution_id, self.ports.inline_limit)
        steps = {key: records.get(key) or {} for key in self.ports.results.all(execution_id) if key != EXECUTION_CONTEXT_KEY}
        return WorkflowRun(execution_id, result.status, result.error, result.cause, steps, list(result.history))
