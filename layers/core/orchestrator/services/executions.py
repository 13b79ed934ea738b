"""The execution use cases: submit, dispatch, pause, resume, cancel, retry, and finishing.

Executions are saved as ``queued`` first (the outbox) and only then announced on the Queue, so a crash
between the two leaves a queued execution that the reconciler announces again, never a lost one.
Dispatch is idempotent: the queued -> running compare-and-set lets one dispatcher win, and the state
machine's execution name is the execution id, so a duplicate message can never start a second run.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from orchestrator.domain.lifecycle import TERMINAL_STATUSES, InvalidTransition
from orchestrator.domain.records import (
    ExecutionRecord,
    ExecutionStatus,
    StepExecutionRecord,
    WorkflowStatus,
    utcnow,
)
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.observability import logger, metrics
from orchestrator.ports.queue import Queue, QueueSendError
from orchestrator.ports.state_machines import ExecutionNotFound, StateMachines
from orchestrator.ports.store import RecordNotFound, Store
from orchestrator.services.cancellation import CANCELLED_ERROR
from orchestrator.services.execution_reuse import downstream_of, reusable_records
from orchestrator.services.notifier import ExecutionNotifier, get_notifier
from orchestrator.services.pause_gate import release
from orchestrator.services.step_records import EXECUTION_CONTEXT_KEY, is_top_level
from orchestrator.services.step_sync import close_unfinished_steps
from orchestrator.services.workflow_plan import (
    STEPS_PER_EXECUTION,
    build_plan,
    execution_context,
    is_part_execution,
    part_execution_name,
    plan_parts,
)

#: Step Functions' terminal statuses -> the control plane's
_FINAL_STATUS = {
    "SUCCEEDED": ExecutionStatus.COMPLETED,
    "FAILED": ExecutionStatus.FAILED,
    "TIMED_OUT": ExecutionStatus.TIMED_OUT,
    "ABORTED": ExecutionStatus.CANCELLED,
}
_NOT_STARTABLE = frozenset({WorkflowStatus.PAUSED, WorkflowStatus.ARCHIVED})


class WorkflowNotRunnable(Exception):
    """The workflow cannot start executions now (paused, archived or deleted)."""

    def __init__(self, workflow_id: str, status: str) -> None:
        super().__init__(f"workflow '{workflow_id}' is {status}; it cannot be executed")
        self.workflow_id = workflow_id
        self.status = status


@dataclass
class ExecutionService:
    store: Store
    queue: Queue
    machines: StateMachines
    #: the workflow state machine, as the StateMachines adapter names it (an ARN in the cloud)
    state_machine: str
    notifier: ExecutionNotifier = field(default_factory=get_notifier)
    #: seed 002's max_concurrent: executions running at once; beyond it they wait, queued
    max_concurrent: int | None = None
    max_concurrent_per_workflow: int | None = None
    #: executions of one owner running at once: no owner can take every slot from the others
    max_concurrent_per_owner: int | None = None
    #: above this many steps a plan runs as child executions of at most this many (services/workflow_plan.py)
    steps_per_execution: int = STEPS_PER_EXECUTION

    # -- starting ------------------------------------------------------------------------------------------

    def submit(self, workflow_id: str, *, input: Any = None, priority: int = 0, owner_id: str | None = None,
               trigger_id: str | None = None, version: int | None = None, retry_of: str | None = None,
               ) -> ExecutionRecord:
        workflow = self.store.get_workflow(workflow_id, with_summary=False)
        if workflow is None:
            raise RecordNotFound("workflow", workflow_id)
        if workflow.status in _NOT_STARTABLE:
            raise WorkflowNotRunnable(workflow_id, workflow.status.value)
        pinned = version or workflow.current_version
        # the current version exists by construction (saved with the workflow); an asked-for one may not
        if version is not None and self.store.get_workflow_version(workflow_id, pinned) is None:
            raise RecordNotFound("workflow version", f"{workflow_id}@{pinned}")
        record = self.store.create_execution(ExecutionRecord(
            workflow_id=workflow_id, workflow_version=pinned, owner_id=owner_id or workflow.owner_id,
            input=input if input is not None else {}, priority=priority, trigger_id=trigger_id, retry_of=retry_of,
        ))
        self.announce(record)
        metrics.add_metric(name="ExecutionsSubmitted", unit=MetricUnit.Count, value=1)
        return record

    def announce(self, record: ExecutionRecord) -> None:
        """Puts a queued execution on the queue; a failed send leaves it to the reconciler."""
        try:
            self.queue.send(record.id, priority=record.priority)
        except QueueSendError:
            logger.warning("execution saved but not enqueued; the reconciler will", extra={"execution_id": record.id})
        self.notifier.notify(record.id)

    def dispatch(self, execution_id: str) -> bool:
        """Starts a queued execution's state machine. False when it is not queued (a duplicate message)."""
        record = self.store.get_execution(execution_id)
        if record is None:
            # nothing to start, and a retry would not change that: drop the message, visibly
            logger.warning("dispatch of an unknown execution: message dropped", extra={"execution_id": execution_id})
            metrics.add_metric(name="UnknownExecutionMessages", unit=MetricUnit.Count, value=1)
            return False
        if record.status is not ExecutionStatus.QUEUED:
            return False
        if self._at_capacity(record):
            return False  # stays queued; announced again when a running execution ends
        definition = self._definition(record.workflow_id, record.workflow_version)
        self._prepare(record, definition)
        try:
            self.store.transition(execution_id, {ExecutionStatus.QUEUED}, ExecutionStatus.RUNNING, started_at=utcnow())
        except InvalidTransition:
            return False  # another dispatcher, or a cancel, got there first
        self.notifier.notify(execution_id)
        self.start_machine(execution_id, definition)
        metrics.add_metric(name="ExecutionsStarted", unit=MetricUnit.Count, value=1)
        return True

    def restart_machine(self, execution_id: str) -> None:
        record = self._get(execution_id)
        self.start_machine(execution_id, self._definition(record.workflow_id, record.workflow_version))

    def start_machine(self, execution_id: str, definition: WorkflowDefinition) -> None:
        try:
            self.machines.start_execution(self.state_machine, execution_id, build_plan(definition, execution_id, self.steps_per_execution))
        except Exception as exc:
            logger.exception("cannot start the state machine", extra={"execution_id": execution_id})
            self.finish(execution_id, "FAILED", error="Orchestrator.StartFailed", cause=f"{type(exc).__name__}: {exc}")

    def _prepare(self, record: ExecutionRecord, definition: WorkflowDefinition) -> None:
        results = self.store.step_results
        if results.get(record.id, EXECUTION_CONTEXT_KEY) is not None:
            return  # prepared by an earlier delivery of the same message
        reused = self._reuse_for(record) if record.retry_of else {}
        for key, stored in reused.items():
            results.put(record.id, key, stored)
        # written last: its presence means the execution is fully prepared
        results.put(record.id, EXECUTION_CONTEXT_KEY,
                    execution_context(definition, record.input, owner_id=record.owner_id))

    def _reuse_for(self, record: ExecutionRecord) -> dict[str, dict[str, Any]]:
        original = self.store.get_execution(record.retry_of or "")
        if original is None:
            return {}
        plan = self.store.step_results.get(record.id, "$retry") or {}
        old = self._definition(original.workflow_id, original.workflow_version)
        new = self._definition(record.workflow_id, record.workflow_version)
        rerun = downstream_of(old, plan["from_step"]) if plan.get("from_step") else set()
        return reusable_records(self.store.step_results.all(original.id), old, new, rerun=rerun)

    # -- control -------------------------------------------------------------------------------------------

    def pause(self, execution_id: str) -> ExecutionRecord:
        record = self.store.transition(execution_id, {ExecutionStatus.RUNNING}, ExecutionStatus.PAUSED)
        self.notifier.notify(execution_id)
        return record

    def resume(self, execution_id: str) -> ExecutionRecord:
        record = self.store.transition(execution_id, {ExecutionStatus.PAUSED}, ExecutionStatus.RUNNING)
        release(execution_id, self.store.step_results, self.machines)
        self.notifier.notify(execution_id)
        return record

    def cancel(self, execution_id: str) -> ExecutionRecord:
        before = self._get(execution_id)
        record = self.store.transition(
            execution_id, {ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.PAUSED},
            ExecutionStatus.CANCELLED, ended_at=utcnow(), error=CANCELLED_ERROR,
            cause="cancelled by request", duration=_duration(before),
        )
        # at once: running and retrying steps are cancelled (services/step_closing.py); an attempt that
        # reports after this cannot reopen its step
        close_unfinished_steps(self.store, execution_id, record)
        if before.status is not ExecutionStatus.QUEUED:
            # stopped first, so that Step Functions ends it ABORTED: a parked step answered first would fail it
            # (FAILED, and the failed-executions alarm); answered after, its token is gone (TaskNotFound)
            self._stop_machine(before)
            release(execution_id, self.store.step_results, self.machines, cancelled=True)
        self.notifier.notify(execution_id)
        if before.status is not ExecutionStatus.QUEUED:
            self._announce_waiting(record)  # its slot is free now
        return record

    def _stop_machine(self, record: ExecutionRecord) -> None:
        """Abort the execution's state machine and its parts'."""
        for machine_execution in self._machine_executions(record):
            with contextlib.suppress(ExecutionNotFound):  # never started, or already gone
                self.machines.stop_execution(machine_execution, CANCELLED_ERROR, "cancelled by request")

    def _machine_executions(self, record: ExecutionRecord) -> list[str]:
        """The state machine executions of ``record``: its own, then its plan parts' (which a stopped parent
        may leave running: each ends at its next step, which refuses to run for a cancelled execution)."""
        names = [record.id]
        parts = len(plan_parts(self._definition(record.workflow_id, record.workflow_version), self.steps_per_execution))
        if parts > 1:
            names.extend(part_execution_name(record.id, index) for index in range(parts))
        return [self.execution_arn(name) for name in names]

    def retry(self, execution_id: str, *, version: Literal["same", "latest"] = "same",
              from_step: str | None = None) -> ExecutionRecord:
        """A new execution that reuses the outputs of the steps that succeeded (and did not change)."""
        original = self._get(execution_id)
        if original.status not in TERMINAL_STATUSES:
            raise InvalidTransition(original.status, ExecutionStatus.QUEUED)
        pinned = None if version == "latest" else original.workflow_version
        if version == "latest":
            workflow = self.store.get_workflow(original.workflow_id, with_summary=False)
            if workflow is None:
                raise RecordNotFound("workflow", original.workflow_id)
            pinned = workflow.current_version
        record = self.store.create_execution(ExecutionRecord(
            workflow_id=original.workflow_id, workflow_version=pinned or original.workflow_version,
            owner_id=original.owner_id, input=original.input, priority=original.priority, retry_of=original.id,
        ))
        if from_step:
            self.store.step_results.put(record.id, "$retry", {"from_step": from_step})
        self.announce(record)
        return record

    def retry_step(self, step_execution_id: str) -> ExecutionRecord:
        step = self.store.get_step_execution(step_execution_id)
        if step is None:
            raise RecordNotFound("step execution", step_execution_id)
        top_level = step.step_id.split("[", 1)[0].split(".", 1)[0]
        return self.retry(step.execution_id, from_step=top_level)

    # -- ending ---------------------------------------------------------------------------------------------

    def finish(self, execution_id: str, machine_status: str, *, output: Any = None, error: str | None = None,
               cause: str | None = None) -> ExecutionRecord | None:
        """The state machine ended: record it unless the execution already ended (a cancel got there first).

        A terminal execution leaves no step open (services/step_closing.py): e.g. the step that waited for
        its retry when a sibling failed the execution becomes cancelled. The steps are closed before the end
        is visible (no reader sees the ended execution with an open step; the state machine has ended, so
        no step moves on) and again after it (an attempt that reported in between).
        """
        if is_part_execution(execution_id):
            return None  # a part of a big plan ended: its parent's own end is what counts
        target = _FINAL_STATUS.get(machine_status)
        record = self.store.get_execution(execution_id)
        if target is None or record is None or record.status in TERMINAL_STATUSES:
            return None
        close_unfinished_steps(self.store, execution_id, record.model_copy(update={"status": target, "error": error}))
        try:
            finished = self.store.transition(
                execution_id, {ExecutionStatus.RUNNING, ExecutionStatus.PAUSED}, target, ended_at=utcnow(),
                duration=_duration(record), output=self._outputs(execution_id), error=error, cause=cause,
            )
        except InvalidTransition:
            return None
        metrics.add_metric(name=f"Executions{target.value.title().replace('_', '')}", unit=MetricUnit.Count, value=1)
        close_unfinished_steps(self.store, execution_id, finished)
        self.notifier.notify(execution_id)
        self._announce_waiting(finished)
        return finished

    def _at_capacity(self, record: ExecutionRecord) -> bool:
        if self.max_concurrent is not None and self.store.count_running() >= self.max_concurrent:
            return True
        per_owner = self.max_concurrent_per_owner
        if per_owner is not None and self.store.count_running(owner_id=record.owner_id) >= per_owner:
            return True
        per_workflow = self.max_concurrent_per_workflow
        return per_workflow is not None and self.store.count_running(record.workflow_id) >= per_workflow

    def _announce_waiting(self, ended: ExecutionRecord) -> None:
        """``ended`` freed a slot: the executions held back by the limits that its slot lets start
        get their turn, highest priority first. Only as many as there are free slots: announcing every
        queued one would cost a refused dispatch attempt per queued execution at every end."""
        if self.max_concurrent is not None:
            free = self.max_concurrent - self.store.count_running()
            if free <= 0:
                return
            for record in self.store.next_queued(free):
                self.announce(record)
        if self.max_concurrent_per_owner is not None:
            # the freed slot is also this owner's own: its next execution may have waited for that alone
            for record in self.store.next_queued(1, owner_id=ended.owner_id):
                self.announce(record)
        if self.max_concurrent_per_workflow is not None:
            # ... and this workflow's own
            for record in self.store.next_queued(1, workflow_id=ended.workflow_id):
                self.announce(record)

    def execution_arn(self, execution_id: str) -> str:
        machine = self.state_machine
        if machine.startswith("arn:"):
            return machine.replace(":stateMachine:", ":execution:") + f":{execution_id}"
        return f"arn:aws:states:local:000000000000:execution:{machine}:{execution_id}"

    def step_executions(self, execution_id: str) -> list[StepExecutionRecord]:
        return self.store.list_step_executions(execution_id)

    # -- helpers ----------------------------------------------------------------------------------------------

    def _get(self, execution_id: str) -> ExecutionRecord:
        record = self.store.get_execution(execution_id)
        if record is None:
            raise RecordNotFound("execution", execution_id)
        return record

    def _definition(self, workflow_id: str, version: int) -> WorkflowDefinition:
        stored = self.store.get_workflow_version(workflow_id, version)
        if stored is None:
            raise RecordNotFound("workflow version", f"{workflow_id}@{version}")
        return WorkflowDefinition.model_validate(stored.definition)

    def _outputs(self, execution_id: str) -> dict[str, Any]:
        """Top-level step outputs; large ones stay behind their blob reference."""
        outputs: dict[str, Any] = {}
        for key, record in self.store.step_results.all(execution_id).items():
            if key.startswith("$") or not is_top_level(key):
                continue
            outputs[key] = {"$ref": record["output_ref"]} if "output_ref" in record else record.get("output")
        return outputs


def _duration(record: ExecutionRecord) -> float | None:
    if record.started_at is None:
        return None
    return max(0.0, (utcnow() - record.started_at).total_seconds())
