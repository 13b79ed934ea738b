"""Pause gates: a step of a paused execution parks its task token here until resume or cancel answers it.

Parking and releasing may race (resume lands while a step parks): both sides look at the other's state
after writing their own, so every token is answered at least once; a second answer finds no waiting task
and is ignored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pydantic import BaseModel

from orchestrator.observability import logger
from orchestrator.ports.execution_control import ExecutionControl
from orchestrator.ports.state_machines import StateMachines, TaskNotFound
from orchestrator.ports.step_results import StepResultStore
from orchestrator.services.cancellation import CANCELLED_ERROR

PAUSE_KEY_PREFIX = "$pause/"


class ParkRequest(BaseModel):
    class _Ref(BaseModel):
        id: str

    execution: _Ref
    step: _Ref
    task_token: str


@dataclass
class PauseGatePorts:
    results: StepResultStore
    control: ExecutionControl
    machines: StateMachines


def park(request: ParkRequest, ports: PauseGatePorts) -> dict[str, bool]:
    execution_id, step_id = request.execution.id, request.step.id
    ports.results.put(execution_id, PAUSE_KEY_PREFIX + step_id, {"token": request.task_token, "parked_at": time.time()})
    status = ports.control.execution_status(execution_id)
    if status == "paused":
        logger.info("step parked at the pause gate", extra={"execution_id": execution_id, "step_id": step_id})
        return {"parked": True}
    # resumed (or cancelled) while parking: answer our own token
    release(execution_id, ports.results, ports.machines, cancelled=status == "cancelled")
    return {"parked": False}


def release(execution_id: str, results: StepResultStore, machines: StateMachines, *, cancelled: bool = False) -> int:
    """Answers every parked token of the execution: success on resume, failure on cancel."""
    released = 0
    for key, record in results.all(execution_id).items():
        token = record.get("token") if key.startswith(PAUSE_KEY_PREFIX) else None
        if not token:
            continue
        results.put(execution_id, key, {"token": None, "released_at": time.time()})
        try:
            if cancelled:
                machines.send_task_failure(token, CANCELLED_ERROR, "the execution was cancelled")
            else:
                machines.send_task_success(token, {"resumed": True})
            released += 1
        except TaskNotFound:
            pass  # answered already by the other side of a park/release race
    return released
