"""The Store contract: every test runs on each backend (memory, sqlite, mongomock, MongoDB when set).

The tests assert behaviour a service relies on, through the port only, never through a backend's tables.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic
import pytest

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.lifecycle import InvalidTransition
from orchestrator.domain.records import (
    ApiKeyRecord,
    ExecutionRecord,
    ExecutionStatus,
    LogLevel,
    LogLine,
    StepExecutionRecord,
    StepStatus,
    TriggerRecord,
    TriggerType,
    WorkflowRecord,
    WorkflowStatus,
    as_timestamp,
    utcnow,
)
from orchestrator.ports.store import (
    DuplicateRecord,
    InvalidCursor,
    RecordNotFound,
    Store,
    VersionConflict,
)

if TYPE_CHECKING:
    from conftest import Backend

T0 = as_timestamp(datetime(2024, 5, 1, 12, 0, 0))
DEFINITION = {"version": "1.0", "steps": [{"id": "fetch", "type": "http", "config": {"url": "https://x"}}]}


# ---------------------------------------------------------------------------------------------- helpers


def a_workflow(store: Store, **fields: Any) -> WorkflowRecord:
    fields.setdefault("name", "nightly sync")
    fields.setdefault("owner_id", "alice")
    return store.create_workflow(WorkflowRecord(**fields), DEFINITION)


def an_execution(store: Store, workflow: WorkflowRecord, **fields: Any) -> ExecutionRecord:
    fields.setdefault("workflow_version", workflow.current_version)
    fields.setdefault("owner_id", workflow.owner_id)
    return store.create_execution(ExecutionRecord(workflow_id=workflow.id, **fields))


def a_schedule(store: Store, workflow: WorkflowRecord, **fields: Any) -> TriggerRecord:
    fields.setdefault("type", TriggerType.SCHEDULE)
    fields.setdefault("owner_id", workflow.owner_id)
    fields.setdefault("config", {"cron": "0 2 * * *", "timezone": "Asia/Shanghai"})
    return store.create_trigger(TriggerRecord(workflow_id=workflow.id, **fields))


def run_in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Start ``count`` threads together (a barrier) and return their results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as error:  # surfaced below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def needs_threads(backend: Backend) -> None:
    if not backend.thread_safe:
        pytest.skip(f"{backend.name} works in one thread only")


# -------------------------------------------------------------------------------------------- workflows


def test_a_created_workflow_reads_back_as_written_with_version_1(store: Store) -> None:
    # Given a workflow with every writable field set
    written = WorkflowRecord(
        name="数据处理工作流",
        description="自动化数据处理",
        status=WorkflowStatus.ACTIVE,
        owner_id="alice",
        tags=["数据处理", "nightly"],
        is_template=True,
        created_at=T0,
        updated_at=T0,
    )
    # When it is created with a definition
    created = store.create_workflow(written, DEFINITION)
    # Then it reads back equal, at version 1, whose definition is the one given
    assert created == written.model_copy(update={"current_version": 1, "execution_count": 0})
    assert store.get_workflow(written.id) == created
    version = store.get_workflow_version(written.id, 1)
    assert version is not None and version.definition == DEFINITION and version.created_at == T0


def test_a_missing_workflow_reads_as_none_and_cannot_be_changed(store: Store) -> None:
    assert store.get_workflow("nope") is None
    assert store.get_workflow_version("nope", 1) is None
    assert store.list_workflow_versions("nope") == []
    with pytest.raises(RecordNotFound):
        store.update_workflow("nope", name="x")
    with pytest.raises(RecordNotFound):
        store.set_workflow_status("nope", WorkflowStatus.ACTIVE)
    assert store.delete_workflow("nope") is False


def test_a_duplicate_workflow_id_is_refused_and_the_original_is_untouched(store: Store) -> None:
    # Given a workflow
    original = a_workflow(store, name="original", tags=["a"])
    # When another workflow is created with its id
    with pytest.raises(DuplicateRecord):
        store.create_workflow(
            WorkflowRecord(id=original.id, name="impostor", owner_id="eve", tags=["b"]), {"x": 1}
        )
    # Then the original record, its tags and its single version are as they were
    assert store.get_workflow(original.id) == original
    assert [w.id for w in store.list_workflows(tags=["b"]).items] == []
    assert [v.definition for v in store.list_workflow_versions(original.id)] == [DEFINITION]


def test_updating_the_definition_adds_an_immutable_version(store: Store) -> None:
    # Given a workflow at version 1
    workflow = a_workflow(store)
    # When its definition is updated twice, once together with its name
    second = store.update_workflow(workflow.id, definition={"steps": [2]}, name="renamed")
    third = store.update_workflow(workflow.id, definition={"steps": [3]})
    # Then each update points the record at a new version and older versions are unchanged
    assert (second.current_version, second.name) == (2, "renamed")
    assert third.current_version == 3 and third.name == "renamed"
    versions = store.list_workflow_versions(workflow.id)
    assert [(v.version, v.definition) for v in versions] == [
        (1, DEFINITION),
        (2, {"steps": [2]}),
        (3, {"steps": [3]}),
    ]
    # And a version is a value: changing what was read changes nothing stored, and it cannot be assigned
    read = store.get_workflow_version(workflow.id, 1)
    assert read is not None
    read.definition["steps"] = "tampered"
    assert store.get_workflow_version(workflow.id, 1).definition == DEFINITION  # type: ignore[union-attr]
    with pytest.raises(pydantic.ValidationError):
        read.version = 9  # type: ignore[misc]


def test_updating_without_a_definition_changes_the_record_but_not_the_version(store: Store) -> None:
    workflow = a_workflow(store, tags=["old"])
    updated = store.update_workflow(
        workflow.id, description="new words", tags=["new", "shiny"], is_template=True
    )
    assert (updated.current_version, updated.description, updated.tags, updated.is_template) == (
        1,
        "new words",
        ["new", "shiny"],
        True,
    )
    assert updated.updated_at >= workflow.updated_at
    # the tag filter follows the new tags
    assert [w.id for w in store.list_workflows(tags=["shiny"]).items] == [workflow.id]
    assert store.list_workflows(tags=["old"]).items == []


def test_an_update_expecting_a_stale_version_conflicts(store: Store) -> None:
    # Given a workflow that someone moved to version 2
    workflow = a_workflow(store)
    store.update_workflow(workflow.id, definition={"steps": []}, expected_version=1)
    # When a writer that read version 1 updates it
    with pytest.raises(VersionConflict) as conflict:
        store.update_workflow(workflow.id, definition={"steps": ["mine"]}, expected_version=1)
    # Then it learns the version it missed, and nothing of its write is stored
    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    assert len(store.list_workflow_versions(workflow.id)) == 2


def test_fields_the_store_owns_cannot_be_updated(store: Store) -> None:
    workflow = a_workflow(store)
    for forbidden in (
        {"id": "other"},
        {"current_version": 7},
        {"owner_id": "mallory"},
        {"execution_count": 3},
    ):
        with pytest.raises(ValueError, match="cannot change"):
            store.update_workflow(workflow.id, **forbidden)
    assert store.get_workflow(workflow.id) == workflow


def test_a_failing_update_leaves_the_prior_state_intact(store: Store) -> None:
    # Given a workflow at version 1
    workflow = a_workflow(store)
    # When an update that renames it carries a definition that is not JSON
    with pytest.raises(pydantic.ValidationError):
        store.update_workflow(workflow.id, name="half-done", definition={"callback": object()})
    # Then neither the rename nor a version 2 was stored
    assert store.get_workflow(workflow.id) == workflow
    assert [v.version for v in store.list_workflow_versions(workflow.id)] == [1]
    # And values that are not JSON are refused before anything is written, for every payload
    with pytest.raises(ValueError):
        an_execution(store, workflow, input={"ratio": float("nan")})
    assert store.list_executions(workflow_id=workflow.id).items == []


def test_status_changes_and_list_filters(store: Store) -> None:
    # Given workflows of two owners with different statuses and tags
    mine = a_workflow(store, owner_id="alice", tags=["etl", "nightly"])
    other = a_workflow(store, owner_id="bob", tags=["etl"])
    draft = a_workflow(store, owner_id="alice", tags=["nightly"])
    store.set_workflow_status(mine.id, WorkflowStatus.ACTIVE)
    store.set_workflow_status(other.id, "active")

    def ids(**filters: Any) -> set[str]:
        return {w.id for w in store.list_workflows(**filters).items}

    # Then every filter, alone and combined, selects exactly its workflows
    assert ids() == {mine.id, other.id, draft.id}
    assert ids(owner_id="alice") == {mine.id, draft.id}
    assert ids(status=WorkflowStatus.ACTIVE) == {mine.id, other.id}
    assert ids(status="draft") == {draft.id}
    assert ids(tags=["etl"]) == {mine.id, other.id}
    assert ids(tags=["etl", "nightly"]) == {mine.id}  # all of the tags
    assert ids(owner_id="alice", status="active", tags=["nightly"]) == {mine.id}
    assert ids(owner_id="carol") == set()
    assert store.get_workflow(mine.id).status == WorkflowStatus.ACTIVE  # type: ignore[union-attr]


def test_a_soft_deleted_workflow_is_hidden_but_kept(store: Store) -> None:
    # Given a workflow with an execution and an enabled schedule
    workflow = a_workflow(store)
    execution = an_execution(store, workflow)
    trigger = a_schedule(store, workflow, next_fire_at=T0)
    # When it is deleted
    assert store.delete_workflow(workflow.id) is True
    # Then it is gone from gets and lists, unless asked for
    assert store.get_workflow(workflow.id) is None
    assert store.list_workflows().items == []
    kept = store.get_workflow(workflow.id, include_deleted=True)
    assert kept is not None and kept.deleted_at is not None
    assert [w.id for w in store.list_workflows(include_deleted=True).items] == [workflow.id]
    # And its versions and executions remain, its triggers no longer fire, and it takes no new work
    assert store.get_workflow_version(workflow.id, 1) is not None
    assert store.get_execution(execution.id) is not None
    assert store.get_trigger(trigger.id).is_enabled is False  # type: ignore[union-attr]
    assert store.due_schedule_triggers(now=T0 + timedelta(days=1)) == []
    with pytest.raises(RecordNotFound):
        an_execution(store, workflow)
    with pytest.raises(RecordNotFound):
        store.update_workflow(workflow.id, name="zombie")
    assert store.delete_workflow(workflow.id) is False


def test_pages_cover_every_workflow_once_in_newest_first_order(store: Store) -> None:
    # Given 23 workflows, several sharing a creation time (ties are broken by id)
    created = [
        a_workflow(store, created_at=T0 + timedelta(seconds=index // 3), updated_at=T0) for index in range(23)
    ]
    expected = [w.id for w in sorted(created, key=lambda w: (w.created_at, w.id), reverse=True)]
    # When they are read page by page, while newer workflows are added between requests
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_workflows(limit=5, cursor=cursor)
        seen.extend(w.id for w in page.items)
        a_workflow(store, created_at=T0 + timedelta(days=1))  # newer: belongs before the first page
        cursor = page.next_cursor
        if cursor is None:
            break
    # Then the pages hold every original workflow once, in order, with no gap
    assert seen == expected
    assert len(seen) == len(set(seen))


def test_paging_refuses_bad_cursors_and_page_sizes(store: Store) -> None:
    with pytest.raises(InvalidCursor):
        store.list_workflows(cursor="not-a-cursor")
    with pytest.raises(InvalidCursor):
        store.list_executions(cursor="W10")
    for bad_limit in (0, 10_000):
        with pytest.raises(ValueError):
            store.list_workflows(limit=bad_limit)


def test_workflow_records_carry_a_summary_of_their_executions(store: Store) -> None:
    # Given executions that completed 3 times, failed once and were cancelled once
    workflow = a_workflow(store)
    outcomes = ["completed", "completed", "failed", "completed", "cancelled"]
    executions = [
        an_execution(store, workflow, status=status, created_at=T0 + timedelta(minutes=index))
        for index, status in enumerate(outcomes)
    ]
    # Then the record counts them, rates success over decided outcomes, and knows the latest
    read = store.get_workflow(workflow.id)
    assert read is not None
    assert read.execution_count == 5
    assert read.success_rate == pytest.approx(3 / 4)
    assert read.last_executed == executions[-1].created_at
    listed = store.list_workflows().items[0]
    assert (listed.execution_count, listed.success_rate) == (5, read.success_rate)
    # and a read without the summary is the same record with the summary left at its defaults
    bare = store.get_workflow(workflow.id, with_summary=False)
    assert bare == read.model_copy(update={"execution_count": 0, "success_rate": None, "last_executed": None})


# --------------------------------------------------------------------------------------------- triggers


def test_trigger_crud(store: Store) -> None:
    # Given a workflow with two triggers
    workflow = a_workflow(store)
    schedule = a_schedule(store, workflow, name="每日执行", created_at=T0, updated_at=T0)
    webhook = store.create_trigger(
        TriggerRecord(
            workflow_id=workflow.id, owner_id="alice", type="webhook", config={"path": "/hook"}, created_at=T0
        )
    )
    # Then they read back as written, oldest first
    assert store.get_trigger(schedule.id) == schedule
    assert [t.id for t in store.list_triggers(workflow.id)] == sorted([schedule.id, webhook.id])
    # When one is updated and the other deleted
    updated = store.update_trigger(
        schedule.id, config={"cron": "0 3 * * *"}, is_enabled=False, next_fire_at=T0
    )
    assert (updated.config, updated.is_enabled, updated.next_fire_at) == ({"cron": "0 3 * * *"}, False, T0)
    assert store.update_trigger(schedule.id, next_fire_at=None).next_fire_at is None
    assert store.delete_trigger(webhook.id) is True
    # Then the store says so, and refuses what makes no sense
    assert [t.id for t in store.list_triggers(workflow.id)] == [schedule.id]
    assert store.get_trigger(webhook.id) is None
    assert store.delete_trigger(webhook.id) is False
    with pytest.raises(RecordNotFound):
        store.update_trigger("nope", name="x")
    with pytest.raises(ValueError, match="cannot change"):
        store.update_trigger(schedule.id, workflow_id="elsewhere")
    with pytest.raises(RecordNotFound):
        store.create_trigger(TriggerRecord(workflow_id="nope", owner_id="alice", type="manual"))
    with pytest.raises(DuplicateRecord):
        store.create_trigger(schedule)


def test_due_schedule_triggers_are_the_enabled_schedules_whose_time_has_come(store: Store) -> None:
    workflow = a_workflow(store)
    late = a_schedule(store, workflow, next_fire_at=T0 - timedelta(minutes=5))
    due_now = a_schedule(store, workflow, next_fire_at=T0)
    a_schedule(store, workflow, next_fire_at=T0 + timedelta(seconds=1))  # not yet
    a_schedule(store, workflow, next_fire_at=T0 - timedelta(hours=1), is_enabled=False)
    a_schedule(store, workflow, next_fire_at=None)  # schedule ended
    store.create_trigger(
        TriggerRecord(
            workflow_id=workflow.id, owner_id="alice", type="webhook", next_fire_at=T0 - timedelta(1)
        )
    )
    assert [t.id for t in store.due_schedule_triggers(now=T0)] == [late.id, due_now.id]
    assert [t.id for t in store.due_schedule_triggers(now=T0, limit=1)] == [late.id]


def test_a_fire_time_is_claimed_once(store: Store) -> None:
    # Given a schedule due at T0
    trigger = a_schedule(store, a_workflow(store), next_fire_at=T0)
    next_fire = T0 + timedelta(days=1)
    # When two schedulers claim the T0 fire
    first = store.claim_trigger_fire(trigger.id, T0, next_fire)
    second = store.claim_trigger_fire(trigger.id, T0, next_fire)
    # Then only the first owns it, and the schedule has moved on
    assert (first, second) == (True, False)
    assert store.get_trigger(trigger.id).next_fire_at == next_fire  # type: ignore[union-attr]
    # And a claim must advance time; claims on unknown or disabled triggers win nothing
    with pytest.raises(ValueError):
        store.claim_trigger_fire(trigger.id, next_fire, next_fire)
    assert store.claim_trigger_fire("nope", T0, next_fire) is False
    store.update_trigger(trigger.id, is_enabled=False)
    assert store.claim_trigger_fire(trigger.id, next_fire, None) is False


def test_concurrent_claims_of_one_fire_time_have_one_winner(backend: Backend) -> None:
    needs_threads(backend)
    store = backend.store
    trigger = a_schedule(store, a_workflow(store), next_fire_at=T0)
    wins = run_in_threads(8, lambda _: store.claim_trigger_fire(trigger.id, T0, T0 + timedelta(hours=1)))
    assert wins.count(True) == 1


def test_recording_a_fire_counts_it(store: Store) -> None:
    trigger = a_schedule(store, a_workflow(store))
    store.record_trigger_fired(trigger.id, at=T0)
    fired = store.record_trigger_fired(trigger.id, at=T0 + timedelta(minutes=1))
    assert (fired.trigger_count, fired.last_triggered) == (2, T0 + timedelta(minutes=1))
    assert store.get_trigger(trigger.id) == fired
    with pytest.raises(RecordNotFound):
        store.record_trigger_fired("nope")


# ------------------------------------------------------------------------------------------- executions


def test_an_execution_reads_back_as_written(store: Store) -> None:
    workflow = a_workflow(store)
    written = ExecutionRecord(
        workflow_id=workflow.id,
        workflow_version=1,
        owner_id="alice",
        input={
            "input_file": "data.csv",
            "parameters": {"batch_size": 1000, "ratio": 0.5},
            "名": [None, True],
        },
        priority=5,
        trigger_id="trigger-1",
        retry_of="execution-0",
        created_at=T0,
        enqueued_at=T0,
    )
    assert store.create_execution(written) == written
    assert store.get_execution(written.id) == written
    assert store.get_execution("nope") is None
    with pytest.raises(DuplicateRecord):
        store.create_execution(written)
    with pytest.raises(RecordNotFound):
        store.create_execution(ExecutionRecord(workflow_id="nope", workflow_version=1, owner_id="alice"))


def test_execution_filters_and_pages(store: Store) -> None:
    # Given executions of two workflows and two owners in several statuses
    first, second = a_workflow(store), a_workflow(store, owner_id="bob")
    made = []
    for index in range(12):
        workflow = first if index % 2 else second
        status = ["queued", "running", "completed"][index % 3]
        made.append(
            an_execution(store, workflow, status=status, created_at=T0 + timedelta(seconds=index // 4))
        )

    def ids(**filters: Any) -> list[str]:
        collected, cursor = [], None
        while True:
            page = store.list_executions(limit=3, cursor=cursor, **filters)
            collected.extend(e.id for e in page.items)
            if (cursor := page.next_cursor) is None:
                return collected

    def expected(keep: Callable[[ExecutionRecord], bool]) -> list[str]:
        return [e.id for e in sorted(made, key=lambda e: (e.created_at, e.id), reverse=True) if keep(e)]

    # Then every filter pages through exactly its executions, newest first
    assert ids() == expected(lambda e: True)
    assert ids(workflow_id=first.id) == expected(lambda e: e.workflow_id == first.id)
    assert ids(status="running") == expected(lambda e: e.status == "running")
    assert ids(owner_id="bob") == expected(lambda e: e.owner_id == "bob")
    assert ids(workflow_id=first.id, status=ExecutionStatus.COMPLETED) == expected(
        lambda e: e.workflow_id == first.id and e.status == "completed"
    )


def test_an_execution_walks_the_lifecycle(store: Store) -> None:
    execution = an_execution(store, a_workflow(store))
    started = store.transition(execution.id, "queued", "running", started_at=T0, claimed_by=None)
    assert (started.status, started.started_at) == (ExecutionStatus.RUNNING, T0)
    assert store.transition(execution.id, {"running"}, "paused").status == "paused"
    assert store.transition(execution.id, ["paused"], ExecutionStatus.RUNNING).status == "running"
    ended = store.transition(
        execution.id,
        {ExecutionStatus.RUNNING},
        ExecutionStatus.COMPLETED,
        ended_at=T0 + timedelta(seconds=90),
        duration=90.0,
        output={"rows": 1000, "files": ["a", "b"]},
    )
    assert ended == store.get_execution(execution.id)
    assert (ended.status, ended.duration, ended.output) == (
        "completed",
        90.0,
        {"rows": 1000, "files": ["a", "b"]},
    )
    assert ended.input == execution.input and ended.created_at == execution.created_at


def test_a_lost_transition_race_reports_the_status_that_won(store: Store) -> None:
    # Given an execution that a worker already started
    execution = an_execution(store, a_workflow(store))
    store.transition(execution.id, "queued", "running")
    # When a user cancels it believing it is still queued
    with pytest.raises(InvalidTransition) as lost:
        store.transition(execution.id, "queued", "cancelled", error="Cancelled", cause="by the user")
    # Then the error names the current status, and nothing of the attempt is stored
    assert (lost.value.current, lost.value.target) == (ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED)
    assert store.get_execution(execution.id).error is None  # type: ignore[union-attr]
    # And cancelling from any live status works
    assert store.transition(execution.id, {"queued", "running", "paused"}, "cancelled").status == "cancelled"
    # And a finished execution stays finished
    with pytest.raises(InvalidTransition) as finished:
        store.transition(execution.id, {"running"}, "failed")
    assert finished.value.current == ExecutionStatus.CANCELLED


def test_transitions_the_lifecycle_forbids_are_refused_before_touching_the_store(store: Store) -> None:
    execution = an_execution(store, a_workflow(store))
    for expected_from, to in [
        ("queued", "completed"),
        ("completed", "running"),
        ({"queued", "running"}, "paused"),
    ]:
        with pytest.raises(InvalidTransition):
            store.transition(execution.id, expected_from, to)
    with pytest.raises(ValueError, match="cannot change"):
        store.transition(execution.id, "queued", "running", workflow_id="other")
    with pytest.raises(ValueError):
        store.transition(execution.id, set(), "running")
    with pytest.raises(RecordNotFound):
        store.transition("nope", "queued", "running")
    assert store.get_execution(execution.id) == execution


def test_claims_take_the_highest_priority_then_the_oldest_and_respect_leases(store: Store) -> None:
    # Given queued executions of different priorities and ages, and one already running
    workflow = a_workflow(store)
    low_old = an_execution(store, workflow, priority=1, created_at=T0)
    high_new = an_execution(store, workflow, priority=9, created_at=T0 + timedelta(minutes=2))
    high_old = an_execution(store, workflow, priority=9, created_at=T0 + timedelta(minutes=1))
    an_execution(store, workflow, status="running", priority=99)
    now = T0 + timedelta(hours=1)
    # When workers claim
    claims = [store.claim_next_queued(f"worker-{n}", lease_seconds=60, now=now) for n in range(4)]
    # Then they get priority order, then age order, then nothing; each claim carries its lease
    assert [c.id if c else None for c in claims] == [high_old.id, high_new.id, low_old.id, None]
    assert claims[0].claimed_by == "worker-0"  # type: ignore[union-attr]
    assert claims[0].claim_expires_at == now + timedelta(seconds=60)  # type: ignore[union-attr]
    assert claims[0].status == ExecutionStatus.QUEUED  # type: ignore[union-attr]
    # And once a lease expires with the execution still queued, another worker can take it over
    later = now + timedelta(seconds=61)
    retaken = store.claim_next_queued("worker-9", lease_seconds=60, now=later)
    assert retaken is not None and (retaken.id, retaken.claimed_by) == (high_old.id, "worker-9")
    # And a started execution is never claimed again
    store.transition(high_new.id, "queued", "running")
    next_claim = store.claim_next_queued("worker-9", lease_seconds=60, now=later + timedelta(hours=1))
    assert next_claim is not None and next_claim.id == high_old.id
    with pytest.raises(ValueError):
        store.claim_next_queued("worker-9", lease_seconds=0)


def test_concurrent_claimers_never_share_an_execution(backend: Backend) -> None:
    needs_threads(backend)
    store = backend.store
    workflow = a_workflow(store)
    queued = {an_execution(store, workflow, priority=index % 3).id for index in range(40)}

    def claim_all(worker: int) -> list[str]:
        mine = []
        while (execution := store.claim_next_queued(f"worker-{worker}", lease_seconds=300)) is not None:
            mine.append(execution.id)
        return mine

    claimed = [execution_id for mine in run_in_threads(8, claim_all) for execution_id in mine]
    assert Counter(claimed) == Counter(queued)


def test_stuck_and_running_executions_are_found(store: Store) -> None:
    workflow = a_workflow(store)
    stuck = an_execution(store, workflow, enqueued_at=T0, created_at=T0)
    an_execution(store, workflow, enqueued_at=T0 + timedelta(minutes=9))  # recent
    running = an_execution(store, workflow, enqueued_at=T0)
    store.transition(running.id, "queued", "running")
    assert [e.id for e in store.queued_older_than(300, now=T0 + timedelta(minutes=10))] == [stuck.id]
    assert [e.id for e in store.running()] == [running.id]


def test_running_executions_are_counted_in_all_and_per_workflow(store: Store) -> None:
    # Given two workflows with 2 and 1 running executions, and one queued
    first, second = a_workflow(store), a_workflow(store)
    for workflow in (first, first, second):
        store.transition(an_execution(store, workflow).id, "queued", "running")
    an_execution(store, first)
    # Then the counts see only the running ones
    assert store.count_running() == 3
    assert (store.count_running(first.id), store.count_running(second.id)) == (2, 1)
    assert store.count_running("no-such-workflow") == 0


def test_the_next_queued_come_by_priority_then_age_up_to_the_limit(store: Store) -> None:
    # Given queued executions of two workflows, with priorities, and a running one
    first, second = a_workflow(store), a_workflow(store)
    low_old = an_execution(store, first, priority=0, created_at=T0)
    high = an_execution(store, second, priority=9, created_at=T0 + timedelta(minutes=2))
    low_new = an_execution(store, first, priority=0, created_at=T0 + timedelta(minutes=1))
    store.transition(an_execution(store, first, priority=9).id, "queued", "running")
    # Then the highest priority comes first, then the oldest; a limit keeps the first ones
    assert [e.id for e in store.next_queued(10)] == [high.id, low_old.id, low_new.id]
    assert [e.id for e in store.next_queued(2)] == [high.id, low_old.id]
    # and one workflow's are its own only
    assert [e.id for e in store.next_queued(10, workflow_id=first.id)] == [low_old.id, low_new.id]


def test_running_and_queued_executions_of_one_owner(store: Store) -> None:
    # Given alice with two running and one queued, bob with one running and one queued
    alice, bob = a_workflow(store, owner_id="alice"), a_workflow(store, owner_id="bob")
    for workflow in (alice, alice, bob):
        store.transition(an_execution(store, workflow).id, "queued", "running")
    alice_queued, bob_queued = an_execution(store, alice), an_execution(store, bob)
    # Then counts and queue reads narrow to the owner (and to owner and workflow together)
    assert (store.count_running(owner_id="alice"), store.count_running(owner_id="bob")) == (2, 1)
    assert store.count_running(owner_id="nobody") == 0
    assert store.count_running(bob.id, owner_id="alice") == 0
    assert [e.id for e in store.next_queued(10, owner_id="alice")] == [alice_queued.id]
    assert [e.id for e in store.next_queued(10, owner_id="bob")] == [bob_queued.id]


# ------------------------------------------------------------------------------------ steps and logs


def test_step_executions_are_upserted_by_execution_and_step(store: Store) -> None:
    execution = an_execution(store, a_workflow(store))
    # Given a step's first attempt
    first = store.upsert_step_execution(
        StepExecutionRecord(
            execution_id=execution.id,
            step_id="fetch",
            status="running",
            input={"url": "https://x"},
            started_at=T0,
        )
    )
    # When its second attempt is stored under a new record id
    retried = store.upsert_step_execution(
        StepExecutionRecord(
            execution_id=execution.id,
            step_id="fetch",
            status=StepStatus.SUCCEEDED,
            attempt=2,
            output={"status_code": 200},
            started_at=T0,
            ended_at=T0 + timedelta(seconds=2),
        )
    )
    # Then it replaced the first and kept its id
    assert retried.id == first.id
    assert (retried.status, retried.attempt, retried.output, retried.input) == (
        "succeeded",
        2,
        {"status_code": 200},
        {},
    )
    assert store.get_step_execution(first.id) == retried
    # And steps list in start order, the not-started first
    later = store.upsert_step_execution(
        StepExecutionRecord(execution_id=execution.id, step_id="a-save", started_at=T0 + timedelta(seconds=5))
    )
    pending = store.upsert_step_execution(
        StepExecutionRecord(execution_id=execution.id, step_id="notify", output_ref="store://blobs/x")
    )
    assert [s.id for s in store.list_step_executions(execution.id)] == [pending.id, first.id, later.id]
    # And a status filter lists only those (an ended execution's open steps, among thousands of closed ones)
    assert [s.id for s in store.list_step_executions(execution.id, statuses={StepStatus.PENDING})] == [
        pending.id, later.id]
    assert [s.id for s in store.list_step_executions(execution.id, statuses={StepStatus.SUCCEEDED})] == [first.id]
    assert store.list_step_executions(execution.id, statuses=set()) == []
    assert store.get_step_execution("nope") is None
    with pytest.raises(RecordNotFound):
        store.upsert_step_execution(StepExecutionRecord(execution_id="nope", step_id="fetch"))


def test_logs_keep_their_order_and_filter_by_step(store: Store) -> None:
    execution = an_execution(store, a_workflow(store))
    store.upsert_step_execution(StepExecutionRecord(execution_id=execution.id, step_id="fetch"))
    # Given lines appended in two batches
    first = store.append_logs(
        execution.id,
        [LogLine(message="started", ts=T0), LogLine(step_id="fetch", message="GET https://x", ts=T0)],
    )
    second = store.append_logs(
        execution.id,
        [
            LogLine(step_id="fetch", level=LogLevel.WARNING, message="retrying", ts=T0),
            LogLine(step_id="save", level="ERROR", message="disk full", ts=T0),
        ],
    )
    # Then they are numbered in append order across batches
    assert [e.seq for e in first + second] == [1, 2, 3, 4]
    assert store.list_logs(execution.id) == first + second
    assert [e.message for e in store.list_logs(execution.id, step_id="fetch")] == [
        "GET https://x",
        "retrying",
    ]
    assert [e.seq for e in store.list_logs(execution.id, after_seq=2)] == [3, 4]
    assert [e.seq for e in store.list_logs(execution.id, after_seq=1, limit=2)] == [2, 3]
    # And each step knows how many lines it wrote
    assert store.list_step_executions(execution.id)[0].log_count == 2
    assert store.append_logs(execution.id, []) == []
    with pytest.raises(RecordNotFound):
        store.append_logs("nope", [LogLine(message="lost")])


def test_concurrent_log_writers_get_distinct_consecutive_numbers(backend: Backend) -> None:
    needs_threads(backend)
    store = backend.store
    execution = an_execution(store, a_workflow(store))
    run_in_threads(
        6, lambda n: [store.append_logs(execution.id, [LogLine(message=f"{n}-{i}")]) for i in range(10)]
    )
    assert [e.seq for e in store.list_logs(execution.id)] == list(range(1, 61))


# ------------------------------------------------------------------------------------------------ stats


def test_stats_count_what_health_reports(store: Store) -> None:
    active = a_workflow(store)
    store.set_workflow_status(active.id, "active")
    a_workflow(store)
    store.delete_workflow(a_workflow(store).id)  # deleted workflows do not count
    for status in ["queued", "queued", "running", "completed"]:
        an_execution(store, active, status=status)
    stats = store.stats()
    assert stats.executions_by_status == {"queued": 2, "running": 1, "completed": 1}
    assert stats.workflows_by_status == {"active": 1, "draft": 1}
    assert (
        stats.active_executions,
        stats.queued_executions,
        stats.total_workflows,
        stats.active_workflows,
    ) == (
        1,
        2,
        2,
        1,
    )


def test_workflow_stats(store: Store) -> None:
    # Given 20 finished executions lasting 1..20 s (16 completed, 3 failed, 1 timed out) and one queued
    workflow = a_workflow(store)
    other = a_workflow(store)
    an_execution(store, other, status="failed", duration=999.0)  # another workflow's: not counted
    for seconds in range(1, 21):
        status = "failed" if seconds in (4, 8, 12) else "timed_out" if seconds == 20 else "completed"
        execution = an_execution(store, workflow, status=status, duration=float(seconds))
        if status == "failed":
            failed_step = "save" if seconds == 12 else "fetch"
            store.upsert_step_execution(
                StepExecutionRecord(execution_id=execution.id, step_id=failed_step, status="failed")
            )
            store.upsert_step_execution(
                StepExecutionRecord(execution_id=execution.id, step_id="validate", status="succeeded")
            )
    an_execution(store, workflow)
    # Then
    stats = store.workflow_stats(workflow.id)
    assert stats.executions_by_status == {"completed": 16, "failed": 3, "timed_out": 1, "queued": 1}
    assert stats.total_executions == 21
    assert stats.success_rate == pytest.approx(16 / 20)
    assert stats.average_duration == pytest.approx(10.5)
    assert stats.p95_duration == 19.0  # nearest rank: ceil(0.95 * 20) = 19th of 20
    assert stats.failures_by_step == {"fetch": 2, "save": 1}
    # And a workflow without executions has empty stats; an unknown one is an error
    empty = store.workflow_stats(a_workflow(store).id)
    assert (empty.total_executions, empty.success_rate, empty.average_duration, empty.p95_duration) == (
        0,
        None,
        None,
        None,
    )
    with pytest.raises(RecordNotFound):
        store.workflow_stats("nope")


# --------------------------------------------------------------------------------------------- api keys


def test_api_keys(store: Store) -> None:
    first = store.create_api_key(
        ApiKeyRecord(owner_id="alice", key_hash="h1", prefix="orc_ab", is_admin=True, created_at=T0)
    )
    second = store.create_api_key(
        ApiKeyRecord(owner_id="alice", key_hash="h2", prefix="orc_cd", created_at=T0)
    )
    store.create_api_key(ApiKeyRecord(owner_id="bob", key_hash="h3", prefix="orc_ef"))
    assert store.find_api_key_by_hash("h1") == first
    assert store.find_api_key_by_hash("unknown") is None
    assert [k.id for k in store.list_api_keys("alice")] == sorted([first.id, second.id])
    with pytest.raises(DuplicateRecord):
        store.create_api_key(ApiKeyRecord(owner_id="eve", key_hash="h1", prefix="orc_zz"))
    # When a key is revoked it authenticates nothing, but its owner still sees it
    assert store.revoke_api_key(first.id) is True
    assert store.find_api_key_by_hash("h1") is None
    assert {k.id: k.revoked for k in store.list_api_keys("alice")} == {first.id: True, second.id: False}
    assert store.revoke_api_key("nope") is False


# ------------------------------------------------------------------------------------------- data plane


def test_checkpoints(store: Store) -> None:
    checkpoints = store.checkpoints
    # Given two executions' checkpoint logs, one of which finishes
    checkpoints.append(
        "run-1", [{"type": "ExecutionStarted", "id": 1}, {"type": "TaskStateEntered", "id": 2}]
    )
    checkpoints.append("run-2", [{"type": "ExecutionStarted", "id": 1}])
    checkpoints.append("run-1", [{"type": "TaskStateExited", "id": 3, "output": {"名": [1, 2.5, None]}}])
    checkpoints.finish("run-2", {"type": "ExecutionSucceeded", "id": 2})
    # Then logs load in append order, and only the unfinished one is to be resumed
    assert [r["id"] for r in checkpoints.load("run-1")] == [1, 2, 3]
    assert checkpoints.load("run-1")[2]["output"] == {"名": [1, 2.5, None]}
    assert checkpoints.load("run-2")[-1] == {"type": "ExecutionSucceeded", "id": 2}
    assert checkpoints.unfinished() == ["run-1"]
    assert checkpoints.load("never") == []
    checkpoints.finish("run-1", {"type": "ExecutionFailed", "id": 4})
    assert checkpoints.unfinished() == []


def test_step_results(store: Store) -> None:
    results = store.step_results
    results.put("run-1", "fetch", {"status": "succeeded", "output": {"body": "x"}})
    results.put("run-1", "save", {"status": "failed", "error": "Disk.Full"})
    results.put("run-1", "fetch", {"status": "succeeded", "output": {"body": "y"}, "attempt": 2})
    results.put("run-2", "fetch", {"status": "skipped"})
    assert results.get("run-1", "fetch") == {"status": "succeeded", "output": {"body": "y"}, "attempt": 2}
    assert results.get("run-1", "nope") is None
    assert results.all("run-1") == {
        "fetch": {"status": "succeeded", "output": {"body": "y"}, "attempt": 2},
        "save": {"status": "failed", "error": "Disk.Full"},
    }
    assert results.all("never") == {}


def test_blobs(store: Store) -> None:
    blobs = store.blobs
    large = bytes(range(256)) * (5 * 1024 * 1024 // 256 + 3)  # over 5 MB, past any single-row/chunk limit
    ref = blobs.put("run-1/fetch/output", large)
    assert blobs.get(ref) == large
    # Overwriting a key replaces its content
    assert blobs.put("run-1/fetch/output", b"small") == ref
    assert blobs.get(ref) == b"small"
    assert blobs.get(blobs.put("empty", b"")) == b""
    with pytest.raises(KeyError):
        blobs.get(ref.replace("run-1", "run-9"))
    with pytest.raises(ValueError):
        blobs.get("s3://bucket/run-1/fetch/output")


def test_a_webhook_delivery_is_claimed_once_until_it_expires(store: Store) -> None:
    deliveries = store.webhook_deliveries
    start = utcnow()  # not T0: MongoDB's TTL monitor (and mongomock's) drops keys past by the real clock
    window = start + timedelta(minutes=6)
    # Given a delivery claimed for its signature's window
    assert deliveries.claim("sig-1", window, now=start) is None
    # When the same delivery is claimed again within the window, Then the first claim holds
    earlier = deliveries.claim("sig-1", window, now=start + timedelta(minutes=1))
    assert earlier is not None and earlier.key == "sig-1" and earlier.execution_id is None
    # And once the first delivery started its execution, a replay learns which
    deliveries.complete("sig-1", "exec-1")
    replay = deliveries.claim("sig-1", window, now=start + timedelta(minutes=2))
    assert replay is not None and replay.execution_id == "exec-1"
    assert replay.expires_at == as_timestamp(window)
    # And another delivery is its own
    assert deliveries.claim("sig-2", window, now=start) is None
    # When a claim is released (nothing started), Then the same delivery may be accepted again
    deliveries.release("sig-2")
    assert deliveries.claim("sig-2", window, now=start + timedelta(minutes=3)) is None
    # When the window has closed, Then the key is free again (and purged)
    assert deliveries.claim("sig-1", window + timedelta(minutes=10), now=window) is None


def test_concurrent_claims_of_one_webhook_delivery_have_one_winner(backend: Backend) -> None:
    needs_threads(backend)
    deliveries = backend.store.webhook_deliveries
    results = run_in_threads(8, lambda _: deliveries.claim("same-signature", utcnow() + timedelta(minutes=5)))
    assert sum(result is None for result in results) == 1


# ------------------------------------------------------------------------------------ across processes


def _claim_until_empty(db_path: str, worker_id: str, start: Any, results: Any) -> None:
    store = SqliteStore(db_path)
    start.wait()  # every process opened the file: now they claim at the same time
    claimed = []
    while (execution := store.claim_next_queued(worker_id, lease_seconds=300)) is not None:
        claimed.append(execution.id)
    results.put((worker_id, claimed))
    store.close()


@pytest.mark.slow
def test_processes_sharing_a_sqlite_file_never_claim_the_same_execution(tmp_path: Path) -> None:
    # Given 400 queued executions in a database file
    db_path = str(tmp_path / "orchestrator.db")
    store = SqliteStore(db_path)
    workflow = a_workflow(store)
    queued = [an_execution(store, workflow, priority=index % 5).id for index in range(400)]
    # When four processes claim from it at the same time until nothing is left
    process_count = 4
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(process_count), context.Queue()
    workers = [
        context.Process(target=_claim_until_empty, args=(db_path, f"process-{n}", start, results))
        for n in range(process_count)
    ]
    for worker in workers:
        worker.start()
    by_process = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    # Then every execution was claimed exactly once, by the process the store says claimed it
    claimed = [execution_id for ids in by_process.values() for execution_id in ids]
    assert Counter(claimed) == Counter(queued)
    assert all(worker.exitcode == 0 for worker in workers)
    owner = {execution_id: worker_id for worker_id, ids in by_process.items() for execution_id in ids}
    assert all(e.claimed_by == owner[e.id] for e in store.list_executions(limit=500).items)
    # And the processes really competed (otherwise this test would prove nothing)
    assert sum(1 for ids in by_process.values() if ids) >= 2
    store.close()


def test_a_sqlite_store_keeps_its_records_across_a_restart(tmp_path: Path) -> None:
    # Given a store that saved a workflow, an execution and a checkpoint, then was closed
    db_path = tmp_path / "orchestrator.db"
    before = SqliteStore(db_path)
    workflow = a_workflow(before)
    execution = an_execution(before, workflow)
    before.transition(execution.id, "queued", "running", started_at=utcnow())
    before.checkpoints.append(execution.id, [{"type": "ExecutionStarted"}])
    before.close()
    # When a new process opens the same file
    after = SqliteStore(db_path)
    # Then it finds what it must resume
    assert after.get_workflow(workflow.id) is not None
    assert [e.id for e in after.running()] == [execution.id]
    assert after.checkpoints.unfinished() == [execution.id]
    after.close()
