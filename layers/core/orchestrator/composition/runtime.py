"""The local engine's composition root: one store, one interpreter, one queue, one ticker per process.

`orchestrator serve` starts it; the Lambda handlers that the local interpreter invokes reach the same
objects through composition.factories. On start it resumes the executions a killed process left running
(their checkpoints replay without re-running finished steps) and announces the ones left queued.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from orchestrator.adapters.local.interpreter_machines import LocalStateMachines
from orchestrator.adapters.local.lambdas import LocalLambdas
from orchestrator.adapters.local.project import project_root
from orchestrator.adapters.local.sam_template import SamTemplate, load_sam_template
from orchestrator.adapters.local.worker_queue import LocalWorkerQueue
from orchestrator.asl import ExecutionResult, Interpreter, StateMachine, load_state_machine
from orchestrator.composition.factories import execution_limits
from orchestrator.composition.store import get_store
from orchestrator.observability import logger
from orchestrator.services.executions import ExecutionService
from orchestrator.services.notifier import get_notifier
from orchestrator.settings import Settings, get_settings

WORKFLOW_STATE_MACHINE = "WorkflowStateMachine"


def _workflow_state_machine(template: SamTemplate) -> StateMachine:
    return load_state_machine(template.definition(WORKFLOW_STATE_MACHINE), name=WORKFLOW_STATE_MACHINE)


def workflow_state_machine_arn() -> str:
    """How the local interpreter names the workflow state machine (executions are named after it)."""
    return _workflow_state_machine(load_sam_template(project_root() / "template.yaml")).arn


class LocalRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = get_store(settings)
        template = load_sam_template(project_root() / "template.yaml")
        self.interpreter = Interpreter(invoke=LocalLambdas(template).invoke, checkpoints=self.store.checkpoints)
        machine = _workflow_state_machine(template)
        self.machines = LocalStateMachines(self.interpreter, [machine], on_finished=self._finished)
        self.queue = LocalWorkerQueue.from_settings(settings)
        # by its ARN, so that ExecutionService.execution_arn() names executions as the interpreter does
        # (the reconciler describes them and cancel stops them by that name)
        self.executions = ExecutionService(self.store, self.queue, self.machines, machine.arn, get_notifier(),
                                           **execution_limits(settings))
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        resumed = self.machines.resume_unfinished()
        if resumed:
            logger.info("resumed executions after a restart", extra={"count": len(resumed)})
        self.queue.start(self._dispatch)
        for record in self.store.queued_older_than(0):
            self.executions.announce(record)

    def stop(self) -> None:
        self.queue.stop(drain=False, timeout=5)
        self.interpreter.close()

    def _dispatch(self, execution_id: str) -> None:
        self.executions.dispatch(execution_id)

    def _finished(self, execution_id: str, result: ExecutionResult) -> None:
        self.executions.finish(execution_id, result.status, error=result.error, cause=result.cause)


@lru_cache(maxsize=1)
def get_local_runtime() -> LocalRuntime:
    return LocalRuntime(get_settings())
