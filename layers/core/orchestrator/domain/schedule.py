"""Cron schedules in a time zone: the next fire time, what to do after downtime, and the cloud's form.

Schedule triggers use 5-field cron (minute hour day-of-month month day-of-week, croniter's dialect:
names, ranges, steps, ``L``, ``W``, ``#``) evaluated in an IANA time zone. Locally an in-process ticker
fires them; in the cloud EventBridge Scheduler does, from ``to_scheduler_expression``.

Daylight saving time. A cron names wall-clock times, and each wall-clock time fires at most once a day:
- a time that the clocks skip (02:30 on a spring-forward night in New York) fires once, at the moment
  it would have been had the clocks not moved (03:30 new time);
- a time that happens twice (01:30 on a fall-back night) fires once, at its first occurrence.
EventBridge Scheduler agrees on the second rule but *skips* a non-existent time, so in the cloud a
02:30 job does not run on a spring-forward day. The local engine fires it: a job that silently misses a
day is the worse surprise, and the difference is one run a year in zones with DST at that hour.

Misfire policy (``due_fires``). After downtime (a restarted server, a slow tick) every slot between the
last one accounted for and now is "missed". They fire at most ONCE, together, and only if the latest of
them is at most ``grace`` old (default ``DEFAULT_MISFIRE_GRACE``, 5 minutes: long enough to ride out a
restart or a stalled tick, short enough that a nightly job never fires in the morning after a night-long
outage). Otherwise they are skipped and the schedule continues with its next slot. Firing once at most
keeps a long outage from starting a burst of identical runs.

All instants are timezone-aware; results are in UTC.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from croniter import CroniterBadDateError, croniter

DEFAULT_MISFIRE_GRACE = timedelta(minutes=5)

#: the largest clock change of a DST transition we account for (real ones are 30 minutes to 2 hours)
_MAX_CLOCK_SHIFT = timedelta(hours=3)
_CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")


class ScheduleError(ValueError):
    """A cron or time zone that cannot be used, or a cron that EventBridge Scheduler cannot express."""


class FireDecision(NamedTuple):
    """What a schedule trigger should do now (see ``due_fires``).

    ``latest_slot`` is the most recent missed slot (None when none was missed): the time the run fires
    *for* when ``fire_now``, the skipped one otherwise. Persist ``next_fire_at`` together with the fire
    (compare-and-set on the previous value) so that a restart or a second ticker never fires a slot twice.
    """

    fire_now: bool
    next_fire_at: datetime
    latest_slot: datetime | None


def time_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r} (use an IANA name such as 'Europe/Berlin' or 'UTC')") from None


def check_cron(cron: str) -> croniter:
    """The parsed cron; ScheduleError if it is not 5 valid fields."""
    if not isinstance(cron, str) or len(cron.split()) != 5:
        raise ScheduleError(
            f"invalid cron {cron!r}: use 5 fields ({' '.join(_CRON_FIELDS)}), e.g. '30 2 * * *'"
        )
    try:
        return croniter(cron)
    except (ValueError, KeyError) as error:  # croniter raises KeyError for a few bad names
        raise ScheduleError(f"invalid cron {cron!r}: {error}") from None


def next_fire_after(cron: str, tz: str, after: datetime) -> datetime:
    """The first fire time strictly after ``after`` (aware), in UTC."""
    check_cron(cron)
    zone = time_zone(tz)
    after_utc = _utc(after, "after")
    wall = _wall(after_utc, zone)
    # a skipped wall time before `after` may fire after it (shifted by the clock change): look back then
    start = wall - _MAX_CLOCK_SHIFT if _clock_changes(zone, wall - _MAX_CLOCK_SHIFT, wall) else wall
    best: tuple[datetime, datetime] | None = None  # (instant, wall time)
    horizon = timedelta(0)
    for candidate in _walls(cron, start, forward=True):
        if best is not None and candidate > best[1] + horizon:
            return best[0]
        instant = _instant(candidate, zone)
        if instant > after_utc and (best is None or instant < best[0]):
            best = (instant, candidate)
            # near a clock change, a later wall time can be an earlier instant: keep looking that far
            changes = _clock_changes(zone, candidate, candidate + _MAX_CLOCK_SHIFT)
            horizon = _MAX_CLOCK_SHIFT if changes else timedelta(0)
    raise AssertionError("unreachable: croniter iterates without end or raises")


def latest_fire_at_or_before(cron: str, tz: str, at: datetime) -> datetime:
    """The last fire time at or before ``at`` (aware), in UTC."""
    check_cron(cron)
    zone = time_zone(tz)
    at_utc = _utc(at, "at")
    wall = _wall(at_utc, zone)
    # croniter's previous time is strictly before its start; slots fall on whole minutes
    start = wall + timedelta(seconds=1)
    if _clock_changes(zone, wall, wall + _MAX_CLOCK_SHIFT):
        # a repeated hour: later wall times of its first pass are earlier instants
        start += _MAX_CLOCK_SHIFT
    best: tuple[datetime, datetime] | None = None
    horizon = timedelta(0)
    for candidate in _walls(cron, start, forward=False):
        if best is not None and candidate < best[1] - horizon:
            return best[0]
        instant = _instant(candidate, zone)
        if instant <= at_utc and (best is None or instant > best[0]):
            best = (instant, candidate)
            changes = _clock_changes(zone, candidate - _MAX_CLOCK_SHIFT, candidate)
            horizon = _MAX_CLOCK_SHIFT if changes else timedelta(0)
    raise AssertionError("unreachable: croniter iterates without end or raises")


def due_fires(
    cron: str,
    tz: str,
    last_scheduled: datetime,
    now: datetime,
    grace: timedelta | float = DEFAULT_MISFIRE_GRACE,
) -> FireDecision:
    """Apply the misfire policy to the slots in ``(last_scheduled, now]``.

    ``last_scheduled`` is the instant up to which slots are accounted for: the last slot fired or
    skipped, or the trigger's creation time. ``grace`` is a timedelta or seconds.
    """
    grace = grace if isinstance(grace, timedelta) else timedelta(seconds=grace)
    if grace < timedelta(0):
        raise ScheduleError(f"the misfire grace must not be negative, got {grace}")
    now_utc = _utc(now, "now")
    _utc(last_scheduled, "last_scheduled")
    first_missed = next_fire_after(cron, tz, last_scheduled)
    if first_missed > now_utc:
        return FireDecision(fire_now=False, next_fire_at=first_missed, latest_slot=None)
    latest = latest_fire_at_or_before(cron, tz, now_utc)
    return FireDecision(
        fire_now=now_utc - latest <= grace,
        next_fire_at=next_fire_after(cron, tz, now_utc),
        latest_slot=latest,
    )


# --- wall clock <-> instants --------------------------------------------------------------------------


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleError(f"{name} must be timezone-aware, got the naive datetime {value.isoformat()}")
    return value.astimezone(UTC)


def _wall(instant: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """The naive wall-clock time of an instant in the zone."""
    # fold=0: the wall time as a label; a fold=1 left on it would change what _clock_changes sees
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _instant(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    # fold=0 (PEP 495): a repeated time is its first occurrence; a skipped time keeps the offset from
    # before the change, which puts it after the change by the size of the gap (02:30 -> 03:30)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _clock_changes(zone: zoneinfo.ZoneInfo, start: datetime, end: datetime) -> bool:
    return start.replace(tzinfo=zone).utcoffset() != end.replace(tzinfo=zone).utcoffset()


def _walls(cron: str, start: datetime, *, forward: bool) -> Iterator[datetime]:
    """Naive wall-clock fire times after (or before) ``start``, in order."""
    times = croniter(cron, start)
    step = times.get_next if forward else times.get_prev
    while True:
        try:
            yield step(datetime)
        except CroniterBadDateError:
            raise ScheduleError(f"cron {cron!r} never fires (no such date, e.g. February 30)") from None


# --- EventBridge Scheduler ----------------------------------------------------------------------------


def to_scheduler_expression(cron: str) -> str:
    """EventBridge Scheduler's ``cron(minutes hours day-of-month month day-of-week year)`` for a 5-field
    cron. Scheduler needs ``?`` in one of the day fields and numbers days of the week 1-7 from Sunday;
    it cannot say "day-of-month OR day-of-week" (cron's meaning when both are restricted): ScheduleError.
    """
    parsed = check_cron(cron)
    minutes, hours, days, months, weekdays = parsed.expanded
    day_of_month = _day_of_month_field(cron, days, parsed.nearest_weekday)
    day_of_week = _day_of_week_field(cron, weekdays, parsed.nth_weekday_of_month)
    if day_of_month != "*" and day_of_week != "*":
        raise ScheduleError(
            f"cron {cron!r} restricts both day-of-month and day-of-week, which cron reads as 'either "
            "matches'; EventBridge Scheduler cannot express that: use two schedule triggers, one per field"
        )
    if day_of_week == "*":
        day_of_week = "?"
    else:
        day_of_month = "?"
    # runs of 3+ values become ranges, so even the densest lists stay under Scheduler's 256 characters
    fields = [_list_field(minutes), _list_field(hours), day_of_month, _list_field(months), day_of_week, "*"]
    return f"cron({' '.join(fields)})"


def _list_field(values: list[int | str]) -> str:
    """croniter's expanded values as a Scheduler field: ``*`` or comma-separated numbers and ranges."""
    if values == ["*"]:
        return "*"
    numbers = sorted({int(value) for value in values})
    parts: list[str] = []
    run_start = previous = numbers[0]
    for number in [*numbers[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        if previous - run_start >= 2:
            parts.append(f"{run_start}-{previous}")
        else:
            parts.extend(str(value) for value in range(run_start, previous + 1))
        if number is not None:
            run_start = previous = number
    return ",".join(parts)


def _day_of_month_field(cron: str, days: list[int | str], nearest_weekday: set[int]) -> str:
    if "l" in days:
        if days != ["l"]:
            raise ScheduleError(f"cron {cron!r}: EventBridge Scheduler cannot combine 'L' with other days of the month")
        return "L"
    if nearest_weekday:
        if len(days) != 1 or set(days) != nearest_weekday:
            raise ScheduleError(f"cron {cron!r}: EventBridge Scheduler takes 'W' with a single day of the month only")
        return f"{days[0]}W"
    return _list_field(days)


def _day_of_week_field(cron: str, weekdays: list[int | str], nth: dict[int, set[int | str]]) -> str:
    if nth:
        occurrences = next(iter(nth.values()))
        if len(nth) != 1 or len(occurrences) != 1 or len(weekdays) != 1:
            raise ScheduleError(
                f"cron {cron!r}: EventBridge Scheduler takes one 'day#n' or last-weekday per expression, alone"
            )
        day, occurrence = next(iter(nth)), next(iter(occurrences))
        # croniter counts days of the week 0-6 from Sunday, Scheduler 1-7
        return f"{day + 1}L" if occurrence == "l" else f"{day + 1}#{occurrence}"
    if weekdays == ["*"]:
        return "*"
    return _list_field([int(day) % 7 + 1 for day in weekdays])
