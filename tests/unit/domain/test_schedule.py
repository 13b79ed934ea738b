"""Cron schedules: next fire times across DST changes, the misfire policy, EventBridge Scheduler's form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orchestrator.domain.schedule import (
    DEFAULT_MISFIRE_GRACE,
    FireDecision,
    ScheduleError,
    due_fires,
    latest_fire_at_or_before,
    next_fire_after,
    to_scheduler_expression,
)

NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fires(cron: str, tz: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times, each asked for after the previous one (as the ticker does)."""
    times = []
    for _ in range(count):
        after = next_fire_after(cron, tz, after)
        times.append(after)
    return times


# --- next fire time --------------------------------------------------------------------------------


def test_next_fire_time_is_strictly_after():
    # Given a daily 02:00 UTC job
    # When asked just before, exactly at, and after the slot / Then the slot, then the next day's
    assert next_fire_after("0 2 * * *", "UTC", utc(2024, 5, 1, 1, 59)) == utc(2024, 5, 1, 2, 0)
    assert next_fire_after("0 2 * * *", "UTC", utc(2024, 5, 1, 2, 0)) == utc(2024, 5, 2, 2, 0)
    assert next_fire_after("0 2 * * *", "UTC", utc(2024, 5, 1, 2, 0, 0) + timedelta(microseconds=1)) == utc(2024, 5, 2, 2)


def test_the_cron_is_read_in_its_time_zone():
    # Given 09:00 in Shanghai (UTC+8, no DST) / When asked in UTC / Then it is 01:00 UTC, returned as UTC
    fire = next_fire_after("0 9 * * *", "Asia/Shanghai", utc(2024, 5, 1, 0, 0))
    assert fire == utc(2024, 5, 1, 1, 0)
    assert fire.tzinfo is UTC


def test_the_after_instant_may_be_in_any_zone():
    # Given "after" as a New York time / When asked / Then the same instant counts
    after = datetime(2024, 5, 1, 21, 30, tzinfo=NEW_YORK)  # 01:30 UTC next day
    assert next_fire_after("0 2 * * *", "UTC", after) == utc(2024, 5, 2, 2, 0)


def test_spring_forward_a_skipped_time_fires_once_after_the_change():
    # Given a daily 02:30 job in New York, where 2024-03-10 02:00 EST jumps to 03:00 EDT
    times = fires("30 2 * * *", "America/New_York", datetime(2024, 3, 9, 3, 0, tzinfo=NEW_YORK), 3)
    # When the schedule runs over the change / Then 02:30 fires once that day, at 03:30 EDT
    assert [t.astimezone(NEW_YORK).isoformat() for t in times] == [
        "2024-03-10T03:30:00-04:00",
        "2024-03-11T02:30:00-04:00",
        "2024-03-12T02:30:00-04:00",
    ]


def test_spring_forward_a_frequent_job_does_not_fire_twice_at_one_instant():
    # Given every 30 minutes in New York on the spring-forward night
    times = fires("*/30 * * * *", "America/New_York", datetime(2024, 3, 10, 1, 0, tzinfo=NEW_YORK), 4)
    # When listed / Then 02:00 and 02:30 (which do not exist) land on 03:00 and 03:30, once each
    assert [t.astimezone(NEW_YORK).strftime("%H:%M %Z") for t in times] == [
        "01:30 EST", "03:00 EDT", "03:30 EDT", "04:00 EDT"
    ]


def test_spring_forward_asked_after_the_change_still_finds_the_shifted_slot():
    # Given it is 03:10 EDT, after the jump, and the 02:30 slot (shifted to 03:30) has not fired
    after = datetime(2024, 3, 10, 3, 10, tzinfo=NEW_YORK)
    # When asked / Then the shifted slot comes next, not tomorrow's
    assert next_fire_after("30 2 * * *", "America/New_York", after) == datetime(2024, 3, 10, 3, 30, tzinfo=NEW_YORK)


def test_fall_back_a_repeated_time_fires_once_at_its_first_occurrence():
    # Given a daily 01:30 job in New York, where 2024-11-03 02:00 EDT falls back to 01:00 EST
    times = fires("30 1 * * *", "America/New_York", datetime(2024, 11, 2, 12, 0, tzinfo=NEW_YORK), 3)
    # When the schedule runs over the change / Then 01:30 fires once on the 3rd, in daylight time
    assert [t.astimezone(NEW_YORK).isoformat() for t in times] == [
        "2024-11-03T01:30:00-04:00",
        "2024-11-04T01:30:00-05:00",
        "2024-11-05T01:30:00-05:00",
    ]


def test_fall_back_an_hourly_job_fires_once_per_wall_clock_hour():
    # Given an hourly job across the repeated hour
    times = fires("0 * * * *", "America/New_York", datetime(2024, 11, 3, 0, 30, tzinfo=NEW_YORK), 3)
    # When listed / Then 01:00 fires once (first pass); the second 01:00 does not fire again
    assert [t.astimezone(NEW_YORK).strftime("%H:%M %Z") for t in times] == ["01:00 EDT", "02:00 EST", "03:00 EST"]


def test_fall_back_asked_during_the_repeated_hour():
    # Given it is 01:10 EST, the second pass through 01:xx (01:30 EDT already fired)
    after = datetime(2024, 11, 3, 1, 10, fold=1, tzinfo=NEW_YORK)
    # When asked / Then the repeated 01:30 does not fire again: tomorrow's does
    assert next_fire_after("30 1 * * *", "America/New_York", after) == datetime(2024, 11, 4, 1, 30, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("zone", "cron", "day_before", "expected"),
    [
        # southern hemisphere: Sydney jumps 02:00 -> 03:00 on 2024-10-06
        ("Australia/Sydney", "30 2 * * *", datetime(2024, 10, 5, 12), "2024-10-06T03:30:00+11:00"),
        # a half-hour change: Lord Howe jumps 02:00 -> 02:30 on 2024-10-06
        ("Australia/Lord_Howe", "15 2 * * *", datetime(2024, 10, 5, 12), "2024-10-06T02:45:00+11:00"),
        # no DST at all
        ("Asia/Kolkata", "30 2 * * *", datetime(2024, 10, 5, 12), "2024-10-06T02:30:00+05:30"),
    ],
)
def test_other_zones(zone, cron, day_before, expected):
    # Given a job in another zone / When it passes that zone's change day / Then it fires once, shifted by the gap
    fire = next_fire_after(cron, zone, day_before.replace(tzinfo=ZoneInfo(zone)))
    assert fire.astimezone(ZoneInfo(zone)).isoformat() == expected


def test_a_later_wall_time_that_is_an_earlier_instant_comes_first():
    # Given Lord Howe's half-hour jump (02:00 -> 02:30) and a job at 02:15 and 02:40
    zone = ZoneInfo("Australia/Lord_Howe")
    times = fires("15,40 2 * * *", "Australia/Lord_Howe", datetime(2024, 10, 6, 1, 0, tzinfo=zone), 3)
    # When listed / Then 02:40 (real) fires before the skipped 02:15 (shifted to 02:45); none is lost
    assert [t.astimezone(zone).strftime("%d %H:%M") for t in times] == ["06 02:40", "06 02:45", "07 02:15"]


def test_latest_fire_includes_the_instant_itself():
    assert latest_fire_at_or_before("0 2 * * *", "UTC", utc(2024, 5, 1, 2, 0)) == utc(2024, 5, 1, 2, 0)
    assert latest_fire_at_or_before("0 2 * * *", "UTC", utc(2024, 5, 1, 1, 59)) == utc(2024, 4, 30, 2, 0)


def test_latest_fire_during_the_repeated_hour_is_the_first_pass():
    # Given 01:10 EST on the fall-back night / When the last hourly fire is asked / Then 01:00 EDT, an hour
    # and ten minutes ago (01:00 EST never fires)
    at = datetime(2024, 11, 3, 1, 10, fold=1, tzinfo=NEW_YORK)
    assert latest_fire_at_or_before("0 * * * *", "America/New_York", at) == datetime(2024, 11, 3, 5, 0, tzinfo=UTC)


def test_latest_fire_during_the_repeated_hour_can_be_a_later_wall_time():
    # Given 01:10 EST (second pass) and a daily 01:30 job that fired at 01:30 EDT, 40 minutes ago
    at = datetime(2024, 11, 3, 1, 10, fold=1, tzinfo=NEW_YORK)
    # When the last fire is asked / Then it is today's 01:30 EDT, though 01:30 is "later" on the wall clock
    assert latest_fire_at_or_before("30 1 * * *", "America/New_York", at) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)


def test_latest_fire_does_not_count_a_shifted_slot_that_is_still_ahead():
    # Given 03:10 EDT on the spring-forward day, the 02:30 slot shifted to 03:30 / Then the last fire was yesterday's
    at = datetime(2024, 3, 10, 3, 10, tzinfo=NEW_YORK)
    assert latest_fire_at_or_before("30 2 * * *", "America/New_York", at) == datetime(2024, 3, 9, 2, 30, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    ("cron", "zone", "message"),
    [
        ("0 2 * *", "UTC", "invalid cron '0 2 * *': use 5 fields"),
        ("0 2 * * * *", "UTC", "use 5 fields"),
        ("61 2 * * *", "UTC", "invalid cron '61 2 * * *'"),
        ("0 2 * * FOO", "UTC", "invalid cron"),
        ("0 2 * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("0 0 30 2 *", "UTC", "never fires"),
    ],
)
def test_unusable_schedules_are_refused_clearly(cron, zone, message):
    with pytest.raises(ScheduleError, match=message.replace("*", r"\*").replace("(", r"\(")):
        next_fire_after(cron, zone, utc(2024, 5, 1))


def test_naive_datetimes_are_refused():
    with pytest.raises(ScheduleError, match="after must be timezone-aware"):
        next_fire_after("0 2 * * *", "UTC", datetime(2024, 5, 1))
    with pytest.raises(ScheduleError, match="last_scheduled must be timezone-aware"):
        due_fires("0 2 * * *", "UTC", datetime(2024, 5, 1), utc(2024, 5, 1))


# --- misfire policy --------------------------------------------------------------------------------


def test_nothing_missed_nothing_fires():
    # Given a daily 02:00 job last handled yesterday / When it is 01:30 / Then wait for 02:00
    decision = due_fires("0 2 * * *", "UTC", utc(2024, 5, 1, 2), utc(2024, 5, 2, 1, 30))
    assert decision == FireDecision(fire_now=False, next_fire_at=utc(2024, 5, 2, 2), latest_slot=None)


def test_a_slot_that_just_came_fires():
    # Given the 02:00 slot passed 3 seconds ago (the tick came then)
    decision = due_fires("0 2 * * *", "UTC", utc(2024, 5, 1, 2), utc(2024, 5, 2, 2, 0, 3))
    # Then it fires, for 02:00, and the next slot is tomorrow
    assert decision == FireDecision(fire_now=True, next_fire_at=utc(2024, 5, 3, 2), latest_slot=utc(2024, 5, 2, 2))


def test_many_missed_slots_fire_once():
    # Given a job every 10 minutes, down from 00:00 to 01:03 (six slots missed)
    decision = due_fires("*/10 * * * *", "UTC", utc(2024, 5, 1, 0, 0), utc(2024, 5, 1, 1, 3))
    # Then one run fires, for the latest slot (01:00, 3 minutes ago), and the schedule goes on at 01:10
    assert decision == FireDecision(fire_now=True, next_fire_at=utc(2024, 5, 1, 1, 10), latest_slot=utc(2024, 5, 1, 1, 0))


def test_a_slot_missed_longer_than_the_grace_is_skipped():
    # Given a nightly 02:00 job and a server that came back at 02:30
    decision = due_fires("0 2 * * *", "UTC", utc(2024, 5, 1, 2), utc(2024, 5, 2, 2, 30))
    # Then 02:00 is skipped (too late) and the next run is tomorrow
    assert decision == FireDecision(fire_now=False, next_fire_at=utc(2024, 5, 3, 2), latest_slot=utc(2024, 5, 2, 2))


def test_the_grace_boundary_is_inclusive():
    last, slot = utc(2024, 5, 1, 2), utc(2024, 5, 2, 2)
    assert due_fires("0 2 * * *", "UTC", last, slot + DEFAULT_MISFIRE_GRACE).fire_now
    assert not due_fires("0 2 * * *", "UTC", last, slot + DEFAULT_MISFIRE_GRACE + timedelta(seconds=1)).fire_now


def test_the_grace_can_be_seconds():
    last, slot = utc(2024, 5, 1, 2), utc(2024, 5, 2, 2)
    assert due_fires("0 2 * * *", "UTC", last, slot + timedelta(seconds=30), grace=60).fire_now
    assert not due_fires("0 2 * * *", "UTC", last, slot + timedelta(seconds=90), grace=60).fire_now
    with pytest.raises(ScheduleError, match="must not be negative"):
        due_fires("0 2 * * *", "UTC", last, slot, grace=-1)


def test_a_fired_slot_does_not_fire_again():
    # Given a slot that fired at 02:00:03 and was recorded as handled
    first = due_fires("0 2 * * *", "UTC", utc(2024, 5, 1, 2), utc(2024, 5, 2, 2, 0, 3))
    assert first.fire_now and first.latest_slot is not None
    # When a restarted ticker looks again a few seconds later / Then nothing fires
    again = due_fires("0 2 * * *", "UTC", first.latest_slot, utc(2024, 5, 2, 2, 0, 8))
    assert not again.fire_now
    assert again.next_fire_at == first.next_fire_at


def test_a_skipped_slot_does_not_hold_back_the_next_one():
    # Given the 02:00 slot was skipped yesterday and nothing was recorded since
    # When today's 02:00 comes / Then it fires: only the latest missed slot counts
    decision = due_fires("0 2 * * *", "UTC", utc(2024, 5, 1, 2), utc(2024, 5, 3, 2, 1))
    assert decision.fire_now and decision.latest_slot == utc(2024, 5, 3, 2)


# --- EventBridge Scheduler -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "expression"),
    [
        ("0 2 * * *", "cron(0 2 * * ? *)"),
        ("*/15 * * * *", "cron(0,15,30,45 * * * ? *)"),
        ("0 8-18/2 * * *", "cron(0 8,10,12,14,16,18 * * ? *)"),
        ("0 9 * * 1-5", "cron(0 9 ? * 2-6 *)"),
        ("0 9 * * MON-FRI", "cron(0 9 ? * 2-6 *)"),
        ("0 0 * * 0", "cron(0 0 ? * 1 *)"),
        ("0 0 * * 7", "cron(0 0 ? * 1 *)"),
        ("0 0 * * SAT", "cron(0 0 ? * 7 *)"),
        ("0 9 * * 5-7", "cron(0 9 ? * 1,6,7 *)"),
        ("0 9 * * */2", "cron(0 9 ? * 1,3,5,7 *)"),
        ("0 0 1,15 * *", "cron(0 0 1,15 * ? *)"),
        ("0 0 1-10 * *", "cron(0 0 1-10 * ? *)"),
        ("0 0 1 JAN-MAR *", "cron(0 0 1 1-3 ? *)"),
        ("0 0 L * *", "cron(0 0 L * ? *)"),
        ("0 0 15W * *", "cron(0 0 15W * ? *)"),
        ("0 10 * * 5#3", "cron(0 10 ? * 6#3 *)"),
        ("0 10 * * L5", "cron(0 10 ? * 6L *)"),
        ("0 0 ? * *", "cron(0 0 * * ? *)"),
    ],
)
def test_scheduler_expressions(cron, expression):
    # Given a 5-field cron / When converted / Then Scheduler's 6 fields: one day field is '?', Sunday is 1
    assert to_scheduler_expression(cron) == expression


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 0 1 * 1", "restricts both day-of-month and day-of-week"),
        ("0 0 1,L * *", "cannot combine 'L' with other days of the month"),
        ("0 0 * * 1#2,3#4", "one 'day#n' or last-weekday per expression"),
        ("0 0 * *", "use 5 fields"),
    ],
)
def test_what_scheduler_cannot_express_is_refused(cron, message):
    with pytest.raises(ScheduleError, match=message):
        to_scheduler_expression(cron)
