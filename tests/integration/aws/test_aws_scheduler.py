"""The Schedules port on EventBridge Scheduler (moto stores schedules; it does not fire them)."""

from __future__ import annotations

import json

import boto3
import pytest

from orchestrator.adapters.aws.scheduler import SchedulerSchedules
from orchestrator.domain.schedule import ScheduleError
from orchestrator.settings import Settings

TARGET = "arn:aws:lambda:us-east-1:123456789012:function:orchestrator-TriggerFunction"
ROLE = "arn:aws:iam::123456789012:role/orchestrator-scheduler"


@pytest.fixture
def scheduler(aws):
    return boto3.client("scheduler")


@pytest.fixture
def schedules(scheduler) -> SchedulerSchedules:
    return SchedulerSchedules(target_arn=TARGET, role_arn=ROLE)


def test_a_trigger_becomes_a_schedule(scheduler, schedules):
    # Given a schedule trigger: 02:30 on weekdays, Berlin time
    payload = {"trigger_id": "t1", "workflow_id": "w1"}
    # When its schedule is put
    schedules.put_schedule("t1", "30 2 * * 1-5", "Europe/Berlin", payload)
    # Then Scheduler holds it under the trigger's name, in Scheduler's cron form and the trigger's zone
    stored = scheduler.get_schedule(Name="orchestrator-t1", GroupName="default")
    assert stored["ScheduleExpression"] == "cron(30 2 ? * 2-6 *)"
    assert stored["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert stored["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert stored["State"] == "ENABLED"
    # and it invokes the target, through the role, with the payload as input
    assert stored["Target"]["Arn"] == TARGET
    assert stored["Target"]["RoleArn"] == ROLE
    assert json.loads(stored["Target"]["Input"]) == payload


def test_putting_it_again_replaces_it(scheduler, schedules):
    # Given an existing schedule / When the trigger changes (new cron, zone, payload) and is disabled
    schedules.put_schedule("t1", "0 2 * * *", "UTC", {"v": 1})
    schedules.put_schedule("t1", "0 */6 * * *", "Asia/Tokyo", {"v": 2}, enabled=False)
    # Then the one schedule holds the new definition
    stored = scheduler.get_schedule(Name="orchestrator-t1")
    assert stored["ScheduleExpression"] == "cron(0 0,6,12,18 * * ? *)"
    assert stored["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    assert stored["State"] == "DISABLED"
    assert json.loads(stored["Target"]["Input"]) == {"v": 2}
    assert len(scheduler.list_schedules()["Schedules"]) == 1


def test_delete_removes_it_and_deleting_again_is_fine(scheduler, schedules):
    schedules.put_schedule("t1", "0 2 * * *", "UTC", {})
    schedules.delete_schedule("t1")
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name="orchestrator-t1")
    schedules.delete_schedule("t1")  # a trigger deleted twice, or never scheduled


def test_a_cron_scheduler_cannot_run_is_refused_before_the_call(scheduler, schedules):
    # Given a cron restricting both day fields / When put / Then ScheduleError and nothing stored
    with pytest.raises(ScheduleError, match="restricts both day-of-month and day-of-week"):
        schedules.put_schedule("t1", "0 0 1 * 1", "UTC", {})
    with pytest.raises(ScheduleError, match="unknown time zone 'Mars/Base'"):
        schedules.put_schedule("t1", "0 0 * * *", "Mars/Base", {})
    assert scheduler.list_schedules()["Schedules"] == []


def test_settings_pick_the_group_and_prefix(scheduler):
    # Given a schedule group of its own and a prefix from settings
    scheduler.create_schedule_group(Name="orchestrator-prod")
    settings = Settings(schedule_target_arn=TARGET, schedule_role_arn=ROLE, schedule_group="orchestrator-prod",
                        schedule_name_prefix="prod-")
    SchedulerSchedules.from_settings(settings).put_schedule("t9", "0 3 * * *", "UTC", {})
    # Then the schedule is in that group under that name
    assert scheduler.get_schedule(Name="prod-t9", GroupName="orchestrator-prod")["Name"] == "prod-t9"


def test_settings_without_target_or_role_are_refused():
    with pytest.raises(ValueError, match="ORCHESTRATOR_SCHEDULE_TARGET_ARN"):
        SchedulerSchedules.from_settings(Settings(schedule_target_arn=TARGET, schedule_role_arn=None))


def test_a_fifo_queue_target_gets_a_message_group(scheduler):
    queue = "arn:aws:sqs:us-east-1:123456789012:orchestrator-triggers.fifo"
    SchedulerSchedules(target_arn=queue, role_arn=ROLE).put_schedule("t1", "0 3 * * *", "UTC", {})
    assert scheduler.get_schedule(Name="orchestrator-t1")["Target"]["SqsParameters"] == {"MessageGroupId": "t1"}


@pytest.mark.parametrize("trigger_id", ["a b/c", "x" * 80])
def test_names_scheduler_would_refuse_become_stable_valid_names(schedules, trigger_id):
    name = schedules.schedule_name(trigger_id)
    assert len(name) <= 64 and name.startswith("orchestrator-")
    assert all(char.isalnum() or char in "._-" for char in name)
    assert schedules.schedule_name(trigger_id) == name


DLQ = "arn:aws:sqs:us-east-1:123456789012:orchestrator-TriggerDeadLetterQueue"


def test_a_failed_delivery_is_retried_then_dead_lettered(scheduler):
    # Given the dead-letter queue and retry bounds from settings (the stack passes the queue's ARN)
    settings = Settings(schedule_target_arn=TARGET, schedule_role_arn=ROLE, trigger_dlq_arn=DLQ,
                        trigger_retry_attempts=4, trigger_max_event_age_seconds=900)
    # When a schedule is put, and put again (Update replaces the whole definition)
    for enabled in (True, False):
        SchedulerSchedules.from_settings(settings).put_schedule("t1", "0 3 * * *", "UTC", {}, enabled=enabled)
        # Then its target retries a failing invocation within those bounds, then leaves the event in the queue
        target = scheduler.get_schedule(Name="orchestrator-t1")["Target"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 900}
        assert target["DeadLetterConfig"] == {"Arn": DLQ}


def test_without_a_dead_letter_queue_the_target_still_retries_within_an_hour(scheduler, schedules):
    schedules.put_schedule("t1", "0 3 * * *", "UTC", {})
    target = scheduler.get_schedule(Name="orchestrator-t1")["Target"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600}
    assert "DeadLetterConfig" not in target


def test_retry_bounds_outside_what_scheduler_accepts_are_refused_at_start_up():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="trigger_max_event_age_seconds"):
        Settings(trigger_max_event_age_seconds=30)
    with pytest.raises(ValidationError, match="trigger_retry_attempts"):
        Settings(trigger_retry_attempts=186)
