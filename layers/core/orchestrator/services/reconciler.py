"""Finds stuck work: queued executions nobody took, and running ones whose state machine has ended.

Runs on a timer (EventBridge schedule in the cloud, a thread locally). Every action it takes is one the
normal path would have taken, so running it twice, or next to the normal path, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.observability import logger
from orchestrator.ports.state_machines import ExecutionNotFound, StateMachines
from orchestrator.ports.store import Store
from orchestrator.services.executions import ExecutionService


@dataclass
class ReconcileReport:
    reannounced: int = 0
    finished: int = 0
    restarted: int = 0


def reconcile(store: Store, executions: ExecutionService, machines: StateMachines, *,
              queued_timeout_seconds: float) -> ReconcileReport:
    report = ReconcileReport()
    for record in store.queued_older_than(queued_timeout_seconds):
        executions.announce(record)
        report.reannounced += 1
    for record in store.running():
        try:
            description = machines.describe_execution(executions.execution_arn(record.id))
        except ExecutionNotFound:
            # the dispatcher died between "running" and starting the state machine: start it now (by name,
            # so a start that did happen is found, not repeated)
            executions.restart_machine(record.id)
            report.restarted += 1
            continue
        if description.status != "RUNNING":
            executions.finish(record.id, description.status, error=description.error, cause=description.cause)
            report.finished += 1
    if report.reannounced or report.finished or report.restarted:
        logger.info("reconciled stuck executions", extra=report.__dict__)
    return report
