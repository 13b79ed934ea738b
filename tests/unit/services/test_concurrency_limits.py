"""Seed 002's max_concurrent, globally and per workflow: executions over the limit stay queued, and each
end lets as many of them go as there are free slots, highest priority first, then oldest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.records import ExecutionStatus, WorkflowRecord, WorkflowStatus
from orchestrator.services.executions import ExecutionService
from orchestrator.services.notifier import ExecutionNotifier
from support.recording_ports import RecordingMachines, RecordingQueue


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    store = SqliteStore(":memory:")
    yield store
    store.close()


def _workflow(store: SqliteStore, name: str, owner_id: str = "owner") -> str:
    definition = {"version": "1.0", "name": name, "steps": [
        {"id": "check", "type": "condition", "config": {"expression": "true"}}]}
    return store.create_workflow(WorkflowRecord(name=name, owner_id=owner_id, status=WorkflowStatus.ACTIVE),
                                 definition).id


def _service(store: SqliteStore, **limits: int) -> tuple[ExecutionService, RecordingQueue, RecordingMachines]:
    queue, machines = RecordingQueue(), RecordingMachines()
    service = ExecutionService(store, queue, machines, "WorkflowStateMachine", ExecutionNotifier(), **limits)
    return service, queue, machines


def _deliver(service: ExecutionService, queue: RecordingQueue) -> None:
    """What the worker pool does: dispatch every message sent so far, once."""
    pending, queue.sent[:] = list(queue.sent), []
    for execution_id in pending:
        service.dispatch(execution_id)


def test_executions_over_the_global_limit_wait_and_go_one_per_freed_slot(store: SqliteStore) -> None:
    # Given at most 2 executions at once, and 5 submitted
    service, queue, machines = _service(store, max_concurrent=2)
    workflow_id = _workflow(store, "limited")
    ids = [service.submit(workflow_id, input={"n": n}).id for n in range(5)]
    # When the queue delivers them
    _deliver(service, queue)
    # Then the 2 oldest run and the others stay queued
    assert machines.started == ids[:2]
    assert [store.get_execution(i).status for i in ids] == [ExecutionStatus.RUNNING] * 2 + [ExecutionStatus.QUEUED] * 3
    # When one of the running ends
    service.finish(ids[0], "SUCCEEDED")
    # Then exactly one waiting execution is announced again (submitted in the same millisecond, any of
    # them is the oldest), and it starts
    assert len(queue.sent) == 1 and queue.sent[0] in ids[2:]
    announced = queue.sent[0]
    _deliver(service, queue)
    assert machines.started == [*ids[:2], announced]
    assert store.count_running() == 2


def test_a_freed_slot_goes_to_the_highest_priority_waiting(store: SqliteStore) -> None:
    # Given a limit of 1, one running execution, and two waiting: an older normal one, a newer urgent one
    service, queue, machines = _service(store, max_concurrent=1)
    workflow_id = _workflow(store, "limited")
    running = service.submit(workflow_id).id
    _deliver(service, queue)
    normal = service.submit(workflow_id, priority=0).id
    urgent = service.submit(workflow_id, priority=9).id
    _deliver(service, queue)
    assert machines.started == [running]
    # When the running one ends
    service.finish(running, "SUCCEEDED")
    # Then the urgent one is announced and starts
    assert queue.sent == [urgent]
    _deliver(service, queue)
    assert machines.started == [running, urgent]
    assert store.get_execution(normal).status is ExecutionStatus.QUEUED


def test_cancelling_a_running_execution_frees_its_slot(store: SqliteStore) -> None:
    # Given a limit of 1, one execution running and one waiting
    service, queue, machines = _service(store, max_concurrent=1)
    workflow_id = _workflow(store, "limited")
    first, second = (service.submit(workflow_id).id for _ in range(2))
    _deliver(service, queue)
    # When the running one is cancelled
    service.cancel(first)
    # Then the waiting one is announced at once, and starts
    assert queue.sent == [second]
    _deliver(service, queue)
    assert machines.started == [first, second]


def test_an_end_with_no_free_slot_announces_nothing(store: SqliteStore) -> None:
    # Given a limit of 1, one execution running and one waiting
    service, queue, machines = _service(store, max_concurrent=1)
    workflow_id = _workflow(store, "limited")
    first, second = (service.submit(workflow_id).id for _ in range(2))
    _deliver(service, queue)
    # and a third started behind the limiter's back (another process's dispatch, say)
    third = service.submit(workflow_id).id
    store.transition(third, {ExecutionStatus.QUEUED}, ExecutionStatus.RUNNING)
    queue.sent.clear()
    # When the first ends, the slot it frees being taken already
    service.finish(first, "SUCCEEDED")
    # Then nothing is announced: the waiting one would only be refused
    assert queue.sent == []
    assert store.get_execution(second).status is ExecutionStatus.QUEUED


def test_the_per_workflow_limit_holds_one_workflow_back_but_not_another(store: SqliteStore) -> None:
    # Given at most 1 running execution per workflow, and two workflows
    service, queue, machines = _service(store, max_concurrent=10, max_concurrent_per_workflow=1)
    busy, other = _workflow(store, "busy"), _workflow(store, "other")
    busy_ids = [service.submit(busy).id for _ in range(2)]
    other_id = service.submit(other).id
    # When all three are delivered
    _deliver(service, queue)
    # Then one of each workflow runs and the second of the busy one waits
    assert machines.started == [busy_ids[0], other_id]
    assert store.count_running(busy) == 1 and store.count_running(other) == 1
    # When the busy workflow's running execution ends, its waiting one gets its turn
    service.finish(busy_ids[0], "SUCCEEDED")
    _deliver(service, queue)
    assert machines.started == [busy_ids[0], other_id, busy_ids[1]]


def test_the_per_owner_limit_keeps_one_owner_from_taking_every_slot(store: SqliteStore) -> None:
    # Given at most 2 running executions per owner, and mallory submitting 5 before alice submits 1
    service, queue, machines = _service(store, max_concurrent=10, max_concurrent_per_owner=2)
    hog, fair = _workflow(store, "hog", owner_id="mallory"), _workflow(store, "fair", owner_id="alice")
    hog_ids = [service.submit(hog).id for _ in range(5)]
    fair_id = service.submit(fair).id
    # When all are delivered
    _deliver(service, queue)
    # Then mallory runs 2, alice runs hers, and mallory's other 3 wait
    assert machines.started == [*hog_ids[:2], fair_id]
    assert store.count_running(owner_id="mallory") == 2
    # When one of mallory's ends, her next waiting one gets the freed slot (and only one)
    service.finish(hog_ids[0], "SUCCEEDED")
    _deliver(service, queue)
    assert machines.started[:3] == [*hog_ids[:2], fair_id] and len(machines.started) == 4
    assert machines.started[3] in hog_ids[2:]
    assert store.count_running(owner_id="mallory") == 2
