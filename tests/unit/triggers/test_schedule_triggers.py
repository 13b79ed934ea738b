"""Schedule triggers: first slot, due slots, one fire per slot across processes and restarts, misfires, DST."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.records import TriggerType, WorkflowStatus
from orchestrator.services.schedule_ticker import parse_scheduled_time
from orchestrator.services.trigger_errors import InvalidTriggerConfig
from support.triggers import (
    RecordingSchedules,
    SettableClock,
    TriggerWorld,
    a_trigger,
    a_workflow,
    build_world,
)

NIGHTLY = {"cron": "0 2 * * *", "timezone": "UTC"}
SLOT = datetime(2024, 5, 2, 2, 0, tzinfo=UTC)  # the first nightly slot after T0 (2024-05-01 09:00 UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def scheduled_times(world: TriggerWorld) -> list[str]:
    return sorted(execution.input["scheduled_time"] for execution in world.executions())


def test_saving_a_schedule_trigger_sets_its_first_slot(world: TriggerWorld) -> None:
    # Given an active workflow
    workflow = a_workflow(world.store)
    # When a nightly trigger is saved, and a disabled one
    trigger = a_trigger(world, workflow, TriggerType.SCHEDULE, NIGHTLY)
    disabled = a_trigger(world, workflow, TriggerType.SCHEDULE, NIGHTLY, is_enabled=False)
    # Then the enabled one waits for its first slot, the disabled one for nothing
    assert trigger.next_fire_at == SLOT
    assert disabled.next_fire_at is None


def test_a_due_slot_fires_once_with_its_scheduled_time_and_counts(world: TriggerWorld) -> None:
    # Given a nightly trigger
    trigger = a_trigger(world, a_workflow(world.store), TriggerType.SCHEDULE, NIGHTLY)
    # When the ticker looks before the slot, then just after it, then again
    assert world.service.tick(SLOT - timedelta(seconds=1)) == []
    fired = world.service.tick(SLOT + timedelta(seconds=3))
    again = world.service.tick(SLOT + timedelta(seconds=8))
    # Then exactly one execution started, for that slot, through the queue, carrying the trigger's id
    assert len(fired) == 1 and again == []
    execution = fired[0]
    assert execution.input == {"scheduled_time": "2024-05-02T02:00:00Z", "trigger_id": trigger.id}
    assert execution.trigger_id == trigger.id
    assert world.queue.sent == [execution.id]
    # And the trigger counts it and waits for the next night
    stored = world.store.get_trigger(trigger.id)
    assert (stored.trigger_count, stored.last_triggered) == (1, world.clock.now)
    assert stored.next_fire_at == SLOT + timedelta(days=1)


def test_a_restarted_service_does_not_fire_the_same_slot_again(tmp_path: Path, clock: SettableClock) -> None:
    # Given a trigger that fired its slot, in a store on disk
    path = tmp_path / "orchestrator.db"
    first_store = SqliteStore(path)
    first = build_world(first_store, clock)
    trigger = a_trigger(first, a_workflow(first_store), TriggerType.SCHEDULE, NIGHTLY)
    assert len(first.service.tick(SLOT + timedelta(seconds=1))) == 1
    first_store.close()
    # When the process restarts (a new store and service on the same file) and ticks at once
    second_store = SqliteStore(path)
    second = build_world(second_store, clock)
    assert second.service.tick(SLOT + timedelta(seconds=6)) == []
    # Then nothing fired twice, and the next slot still fires
    assert len(second.service.tick(SLOT + timedelta(days=1, seconds=1))) == 1
    assert scheduled_times(second) == ["2024-05-02T02:00:00Z", "2024-05-03T02:00:00Z"]
    assert second_store.get_trigger(trigger.id).trigger_count == 2
    second_store.close()


def test_two_services_ticking_one_database_at_once_fire_each_slot_once(tmp_path: Path, clock: SettableClock) -> None:
    # Given two processes' services on one SQLite file and a trigger due every minute
    path = tmp_path / "orchestrator.db"
    stores = [SqliteStore(path), SqliteStore(path)]
    worlds = [build_world(store, clock) for store in stores]
    a_trigger(worlds[0], a_workflow(stores[0]), TriggerType.SCHEDULE, {"cron": "* * * * *"})
    first_slot = utc(2024, 5, 1, 9, 1)
    # When both tick at the same moments, five minutes in a row, each pair released together
    for minute in range(5):
        now = first_slot + timedelta(minutes=minute, seconds=2)
        barrier = threading.Barrier(len(worlds))

        def tick(world: TriggerWorld, now: datetime = now, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            world.service.tick(now)

        threads = [threading.Thread(target=tick, args=(world,)) for world in worlds]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # Then every slot started exactly one execution
    assert scheduled_times(worlds[0]) == [f"2024-05-01T09:0{minute}:00Z" for minute in range(1, 6)]
    assert len(worlds[0].queue.sent) + len(worlds[1].queue.sent) == 5
    for store in stores:
        store.close()


def test_a_slot_missed_by_less_than_the_grace_fires_late_once(world: TriggerWorld) -> None:
    # Given a nightly trigger and a server that was down over its slot
    trigger = a_trigger(world, a_workflow(world.store), TriggerType.SCHEDULE, NIGHTLY)
    # When it ticks again four minutes after the slot (the grace is five)
    fired = world.service.tick(SLOT + timedelta(minutes=4))
    # Then the slot runs now, once, for its own time
    assert [execution.input["scheduled_time"] for execution in fired] == ["2024-05-02T02:00:00Z"]
    assert world.store.get_trigger(trigger.id).next_fire_at == SLOT + timedelta(days=1)


def test_a_slot_missed_by_more_than_the_grace_is_skipped(world: TriggerWorld) -> None:
    trigger = a_trigger(world, a_workflow(world.store), TriggerType.SCHEDULE, NIGHTLY)
    # When the server comes back ten minutes after the slot
    fired = world.service.tick(SLOT + timedelta(minutes=10))
    # Then the slot is skipped and the schedule continues with the next night
    assert fired == [] and world.executions() == []
    stored = world.store.get_trigger(trigger.id)
    assert stored.next_fire_at == SLOT + timedelta(days=1)
    assert stored.trigger_count == 0


def test_many_missed_slots_fire_once_for_the_latest(world: TriggerWorld) -> None:
    # Given a trigger every ten minutes, last accounted for at 09:10
    trigger = a_trigger(world, a_workflow(world.store), TriggerType.SCHEDULE, {"cron": "*/10 * * * *"})
    assert trigger.next_fire_at == utc(2024, 5, 1, 9, 10)
    # When the ticker comes back at 09:52 (slots 09:10 ... 09:50 missed; 09:50 is two minutes old)
    fired = world.service.tick(utc(2024, 5, 1, 9, 52))
    # Then one execution runs, for 09:50, and the schedule goes on at 10:00
    assert [execution.input["scheduled_time"] for execution in fired] == ["2024-05-01T09:50:00Z"]
    assert world.store.get_trigger(trigger.id).next_fire_at == utc(2024, 5, 1, 10, 0)


def test_a_custom_misfire_grace_is_applied(store: SqliteStore, clock: SettableClock) -> None:
    world = build_world(store, clock, misfire_grace=timedelta(hours=1))
    a_trigger(world, a_workflow(store), TriggerType.SCHEDULE, NIGHTLY)
    assert len(world.service.tick(SLOT + timedelta(minutes=50))) == 1


@pytest.mark.parametrize("status", [WorkflowStatus.PAUSED, WorkflowStatus.DRAFT, WorkflowStatus.ARCHIVED])
def test_slots_of_an_inactive_workflow_are_consumed_not_saved_up(world: TriggerWorld, status: WorkflowStatus) -> None:
    # Given a trigger of a workflow that is not active
    workflow = a_workflow(world.store, status=status)
    trigger = a_trigger(world, workflow, TriggerType.SCHEDULE, NIGHTLY)
    # When its slot comes
    assert world.service.tick(SLOT + timedelta(seconds=1)) == []
    # Then nothing started and the slot is gone: activating the workflow does not replay it
    world.store.set_workflow_status(workflow.id, WorkflowStatus.ACTIVE)
    assert world.service.tick(SLOT + timedelta(seconds=6)) == []
    assert [e.input["scheduled_time"] for e in world.service.tick(SLOT + timedelta(days=1))] == ["2024-05-03T02:00:00Z"]
    assert world.store.get_trigger(trigger.id).trigger_count == 1


def test_a_disabled_trigger_never_fires(world: TriggerWorld) -> None:
    trigger = a_trigger(world, a_workflow(world.store), TriggerType.SCHEDULE, NIGHTLY)
    disabled = world.store.update_trigger(trigger.id, is_enabled=False)
    world.service.on_trigger_saved(disabled)
    assert world.service.tick(SLOT + timedelta(seconds=1)) == []


def test_a_stored_config_that_cannot_run_stops_its_schedule_without_breaking_the_tick(world: TriggerWorld) -> None:
    # Given two due triggers, one of which had its config broken behind the service's back
    workflow = a_workflow(world.store)
    broken = a_trigger(world, workflow, TriggerType.SCHEDULE, NIGHTLY)
    healthy = a_trigger(world, workflow, TriggerType.SCHEDULE, NIGHTLY)
    world.store.update_trigger(broken.id, config={"cron": "0 2 30 2 *"})  # February 30th never comes
    # When the ticker looks
    fired = world.service.tick(SLOT + timedelta(seconds=1))
    # Then the healthy one fired and the broken one is no longer due
    assert [execution.trigger_id for execution in fired] == [healthy.id]
    assert world.store.get_trigger(broken.id).next_fire_at is None


# --------------------------------------------------------------------------------------- daylight saving time


def test_a_wall_time_skipped_by_spring_forward_fires_once_an_hour_later(store: SqliteStore) -> None:
    # Given 02:30 every night in New York, the day before clocks jump from 02:00 to 03:00 (2024-03-10)
    world = build_world(store, SettableClock(utc(2024, 3, 9, 12, 0)))
    trigger = a_trigger(world, a_workflow(store), TriggerType.SCHEDULE,
                        {"cron": "30 2 * * *", "timezone": "America/New_York"})
    # Then that night's slot is 03:30 EDT (07:30 UTC), where 02:30 would have been without the jump
    assert trigger.next_fire_at == utc(2024, 3, 10, 7, 30)
    fired = world.service.tick(utc(2024, 3, 10, 7, 30, 1))
    assert [execution.input["scheduled_time"] for execution in fired] == ["2024-03-10T07:30:00Z"]
    # And the next night is 02:30 EDT again (06:30 UTC)
    assert store.get_trigger(trigger.id).next_fire_at == utc(2024, 3, 11, 6, 30)


def test_a_wall_time_repeated_by_fall_back_fires_once(store: SqliteStore) -> None:
    # Given 01:30 every night in New York, the day before 01:00-02:00 happens twice (2024-11-03)
    world = build_world(store, SettableClock(utc(2024, 11, 2, 12, 0)))
    trigger = a_trigger(world, a_workflow(store), TriggerType.SCHEDULE,
                        {"cron": "30 1 * * *", "timezone": "America/New_York"})
    # When the first 01:30 (EDT, 05:30 UTC) and the second (EST, 06:30 UTC) pass
    first = world.service.tick(utc(2024, 11, 3, 5, 30, 1))
    second = world.service.tick(utc(2024, 11, 3, 6, 30, 1))
    # Then only the first fired, and the next slot is the next night's 01:30 EST
    assert [execution.input["scheduled_time"] for execution in first] == ["2024-11-03T05:30:00Z"]
    assert second == []
    assert store.get_trigger(trigger.id).next_fire_at == utc(2024, 11, 4, 6, 30)


# ----------------------------------------------------------------------------------------------- the cloud


def test_in_the_cloud_each_schedule_trigger_gets_one_scheduler_schedule(store: SqliteStore, clock: SettableClock) -> None:
    schedules = RecordingSchedules()
    world = build_world(store, clock, schedules=schedules)
    workflow = a_workflow(store)
    # When a schedule trigger is saved, then disabled, then deleted
    trigger = a_trigger(world, workflow, TriggerType.SCHEDULE, {"cron": "0 2 * * *", "timezone": "Asia/Shanghai"})
    assert schedules.schedules[trigger.id] == {
        "cron": "0 2 * * *", "timezone": "Asia/Shanghai", "enabled": True,
        "payload": {"trigger_id": trigger.id, "scheduled_time": "<aws.scheduler.scheduled-time>"},
    }
    world.service.on_trigger_saved(store.update_trigger(trigger.id, is_enabled=False))
    assert schedules.schedules[trigger.id]["enabled"] is False
    world.service.on_trigger_deleted(trigger)
    # Then the platform's schedule followed each step
    assert trigger.id not in schedules.schedules


def test_a_cron_the_scheduler_cannot_express_is_refused_in_the_cloud_only(store: SqliteStore, clock: SettableClock) -> None:
    # "the 1st of the month OR any Monday" has no EventBridge Scheduler form
    either_day = {"cron": "0 0 1 * 1"}
    workflow = a_workflow(store)
    cloud = build_world(store, clock, schedules=RecordingSchedules())
    with pytest.raises(InvalidTriggerConfig) as refused:
        a_trigger(cloud, workflow, TriggerType.SCHEDULE, either_day)
    assert refused.value.problems[0].startswith("config.cron:")
    local = build_world(store, clock)
    assert a_trigger(local, workflow, TriggerType.SCHEDULE, either_day).next_fire_at is not None


def test_invalid_schedule_configs_are_refused_with_every_problem(world: TriggerWorld) -> None:
    with pytest.raises(InvalidTriggerConfig) as refused:
        a_trigger(world, a_workflow(world.store), TriggerType.SCHEDULE, {"cron": "61 * * * *", "timezon": "UTC"})
    assert [problem.split(":")[0] for problem in refused.value.problems] == ["config.cron", "config.timezon"]


def test_a_retried_scheduler_invocation_does_not_start_a_second_execution(world: TriggerWorld) -> None:
    # Given a nightly trigger, as EventBridge Scheduler fires it in the cloud
    trigger = a_trigger(world, a_workflow(world.store), TriggerType.SCHEDULE, NIGHTLY)
    world.clock.now = SLOT + timedelta(seconds=2)
    # When the slot is delivered, then delivered again (a retry), then an older slot arrives
    first = world.service.fire_scheduled(trigger.id, "2024-05-02T02:00:00Z")
    retry = world.service.fire_scheduled(trigger.id, "2024-05-02T02:00:00Z")
    older = world.service.fire_scheduled(trigger.id, "2024-05-01T02:00:00Z")
    # Then one execution started, for that slot
    assert first is not None and retry is None and older is None
    assert first.input == {"scheduled_time": "2024-05-02T02:00:00Z", "trigger_id": trigger.id}
    assert world.store.get_trigger(trigger.id).trigger_count == 1
    # And the next night's slot fires in its turn
    world.clock.now = SLOT + timedelta(days=1, seconds=1)
    assert world.service.fire_scheduled(trigger.id, SLOT + timedelta(days=1)) is not None


def test_a_scheduler_delivery_later_than_the_grace_is_skipped(world: TriggerWorld) -> None:
    trigger = a_trigger(world, a_workflow(world.store), TriggerType.SCHEDULE, NIGHTLY)
    world.clock.now = SLOT + timedelta(hours=3)  # Scheduler kept retrying a throttled target
    assert world.service.fire_scheduled(trigger.id, "2024-05-02T02:00:00Z") is None
    assert world.executions() == []
    assert world.store.get_trigger(trigger.id).next_fire_at == SLOT + timedelta(days=1)


def test_a_scheduler_delivery_for_a_deleted_or_inactive_trigger_starts_nothing(world: TriggerWorld) -> None:
    workflow = a_workflow(world.store)
    trigger = a_trigger(world, workflow, TriggerType.SCHEDULE, NIGHTLY)
    world.clock.now = SLOT
    world.store.set_workflow_status(workflow.id, WorkflowStatus.PAUSED)
    assert world.service.fire_scheduled(trigger.id, SLOT) is None
    assert world.service.fire_scheduled("no-such-trigger", SLOT) is None
    assert world.executions() == []


def test_scheduled_times_must_say_their_time_zone() -> None:
    assert parse_scheduled_time("2024-05-02T02:00:00Z") == SLOT
    with pytest.raises(ValueError, match="no time zone"):
        parse_scheduled_time("2024-05-02T02:00:00")
