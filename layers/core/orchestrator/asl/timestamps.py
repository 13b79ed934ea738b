"""RFC 3339 timestamps as Step Functions accepts them (Wait Timestamp, Choice Timestamp* / IsTimestamp)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# An uppercase 'T' between date and time and an explicit zone ('Z' or ±hh:mm) are required; fractional
# seconds may have up to nanosecond precision.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})"
)


def parse_timestamp(text: object) -> tuple[datetime, int] | None:
    """(datetime truncated to microseconds, nanoseconds within the second) or None if not RFC 3339."""
    if not isinstance(text, str):
        return None
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or "").ljust(9, "0")
    nanoseconds = int(fraction)
    zone_text = match.group(8)
    if zone_text == "Z":
        zone = UTC
    else:
        sign = 1 if zone_text[0] == "+" else -1
        zone_hours, zone_minutes = int(zone_text[1:3]), int(zone_text[4:6])
        if zone_hours > 23 or zone_minutes > 59:
            return None
        zone = timezone(sign * timedelta(hours=zone_hours, minutes=zone_minutes))
    try:
        moment = datetime(year, month, day, hour, minute, second, nanoseconds // 1000, tzinfo=zone)
    except ValueError:
        return None
    return moment, nanoseconds


def timestamp_sort_key(text: object) -> tuple[int, int] | None:
    """A key that orders timestamps exactly (to the nanosecond), or None if not a timestamp."""
    parsed = parse_timestamp(text)
    if parsed is None:
        return None
    moment, nanoseconds = parsed
    return int(moment.replace(microsecond=0).timestamp()), nanoseconds


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds and 'Z', as the Context object shows times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_millis(moment: datetime) -> int:
    """A date as the service integrations' responses carry it (StartDate, StopDate): epoch milliseconds."""
    return int(moment.timestamp() * 1000)
