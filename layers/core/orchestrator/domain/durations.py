"""Durations as workflows write them: ``"30s"``, ``"5m"``, ``"1h30m"``, ``"250ms"``, or a number of seconds.

Every duration field (step timeouts, executor timeouts, retry delays, condition trigger intervals) is at
most ``MAX_DURATION_SECONDS``, 7 days: longer values are validation errors, not runs that fail later (the
waits they become, such as ``poll()``'s milliseconds in a C int, overflow past about 24 days). A workflow
that must wait longer waits in steps: a schedule, a condition trigger, or a human approval.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# "ms" before "m" so that "250ms" is not read as 250 minutes and a stray "s"
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")

DURATION_PATTERN = r"^\s*(\d+(\.\d+)?|(\d+(\.\d+)?(ms|s|m|h|d))+)\s*$"
_HINT = "use a number of seconds or units like '30s', '5m', '1h30m', '250ms', '1d'"

#: the longest duration a workflow may write: 7 days
MAX_DURATION_SECONDS = 7 * 86400.0


class DurationError(ValueError):
    """A value that is not a duration; the message names the value and shows the accepted forms."""


def parse_duration(value: Any) -> float:
    """Seconds (>= 0) from ``12``, ``1.5``, ``"90"``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"250ms"``, ``"1d"``."""
    if isinstance(value, bool):  # bool is an int: `timeout: yes` is a mistake, not one second
        raise DurationError(f"invalid duration {value!r}: {_HINT}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer of hundreds of digits is no float
            raise DurationError(f"invalid duration {str(value)[:20]}...: it is far too long") from None
    elif isinstance(value, str):
        text = value.strip().lower()
        if _WHOLE.fullmatch(text):
            seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text))
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise DurationError(f"invalid duration {value!r}: {_HINT}") from None
    else:
        raise DurationError(f"invalid duration {value!r}: {_HINT}")
    if math.isnan(seconds) or math.isinf(seconds):
        raise DurationError(f"invalid duration {value!r}: it must be a finite number of seconds")
    if seconds < 0:
        raise DurationError(f"invalid duration {value!r}: it must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """The short text of a number of seconds, for messages: 90 -> "1m30s", 0.25 -> "250ms"."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    rest = whole + (seconds - int(seconds))
    if rest or not parts:
        parts.append(f"{rest:g}s")
    return "".join(parts)


def check_max_duration(seconds: float) -> float:
    """``seconds`` if at most MAX_DURATION_SECONDS; DurationError naming both otherwise."""
    if seconds > MAX_DURATION_SECONDS:
        raise DurationError(
            f"duration {format_duration(seconds) if seconds < 1e12 else f'{seconds:g}s'} is longer than the "
            f"maximum of {format_duration(MAX_DURATION_SECONDS)} ({MAX_DURATION_SECONDS:g} seconds)"
        )
    return seconds


_DURATION_JSON_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": MAX_DURATION_SECONDS},
            {"type": "string", "pattern": DURATION_PATTERN},
        ],
        "description": "seconds, or a duration such as '30s', '5m', '1h30m', '250ms'; at most 7 days ('7d')",
    }
)

#: a duration field: accepts seconds or "5m"-style text, holds float seconds, must be positive, at most 7 days
Duration = Annotated[
    float, BeforeValidator(parse_duration), Field(gt=0), AfterValidator(check_max_duration), _DURATION_JSON_SCHEMA
]
#: like Duration, but zero is allowed (a retry delay of 0 means "retry at once")
NonNegativeDuration = Annotated[
    float, BeforeValidator(parse_duration), AfterValidator(check_max_duration), _DURATION_JSON_SCHEMA
]
