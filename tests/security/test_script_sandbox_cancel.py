"""Issue 7: cancelling executions kills their running scripts and frees their worker slots.

Through the local engine as `orchestrator serve` wires it (LocalRuntime: store, queue, ASL interpreter,
step runner), with the step threads cut down to ``SLOTS``: that many executions of ``sleep`` hold every
slot, so a further execution can only run once a cancel has really freed one.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_script_sandbox import host_processes, marker, wait_until

from orchestrator.composition import runtime as runtime_module
from orchestrator.domain.lifecycle import is_terminal
from orchestrator.domain.records import ExecutionStatus, StepStatus, WorkflowRecord, WorkflowStatus
from orchestrator.services import step_execution
from support.process_wiring import reset_process_wiring

SLOTS = 20


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[runtime_module.LocalRuntime]:
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ORCHESTRATOR_STORE", "sqlite")
    slots = concurrent.futures.ThreadPoolExecutor(max_workers=SLOTS, thread_name_prefix="step-slot")
    monkeypatch.setattr(step_execution, "_EXECUTOR_THREADS", slots)
    reset_process_wiring()
    local = runtime_module.get_local_runtime()
    local.start()
    yield local
    local.stop()
    slots.shutdown(wait=False, cancel_futures=True)
    reset_process_wiring()


def _workflow(runtime: runtime_module.LocalRuntime, name: str, code: str) -> WorkflowRecord:
    definition = {"name": name, "steps": [{"id": "only", "type": "script", "config": {"runtime": "bash", "code": code}}]}
    return runtime.store.create_workflow(
        WorkflowRecord(name=name, owner_id="mallory", status=WorkflowStatus.ACTIVE), definition)


def test_cancelled_scripts_die_within_a_second_and_free_their_slots(runtime: runtime_module.LocalRuntime) -> None:
    # Given SLOTS executions of mallory's hour-long script, holding every step slot
    mark = marker()
    sleeper = _workflow(runtime, "sleeper", f"sleep {mark}")
    sleeping = [runtime.executions.submit(sleeper.id).id for _ in range(SLOTS)]
    assert wait_until(lambda: len(host_processes(mark)) == SLOTS, within=60) is not None, len(host_processes(mark))
    # And one more execution, which finds no free slot
    quick = runtime.executions.submit(_workflow(runtime, "quick", "echo '{\"done\": true}'").id).id
    time.sleep(1.0)
    assert not is_terminal(runtime.store.get_execution(quick).status), "a slot was free: the test proves nothing"

    # When every sleeping execution is cancelled
    for execution_id in sleeping:
        assert runtime.executions.cancel(execution_id).status is ExecutionStatus.CANCELLED
    cancelled_at = time.monotonic()

    # Then within a second no script process is left
    gone_after = wait_until(lambda: not host_processes(mark), within=10)
    assert gone_after is not None and gone_after < 1.0, f"{len(host_processes(mark))} left, gone after {gone_after}"
    # And the waiting execution gets a slot and completes
    deadline = cancelled_at + 15
    while time.monotonic() < deadline and not is_terminal(runtime.store.get_execution(quick).status):
        time.sleep(0.02)
    done = runtime.store.get_execution(quick)
    assert done.status is ExecutionStatus.COMPLETED, (done.status, done.error, done.cause)
    assert done.output == {"only": {"done": True}}
    # And each cancelled step is recorded cancelled, with the cancel as its error once its runner returned
    for execution_id in sleeping:
        steps = runtime.store.list_step_executions(execution_id)
        assert [step.status for step in steps] == [StepStatus.CANCELLED]
    assert wait_until(lambda: all(runtime.store.list_step_executions(e)[0].error == "Orchestrator.Cancelled"
                                  for e in sleeping), within=5) is not None
