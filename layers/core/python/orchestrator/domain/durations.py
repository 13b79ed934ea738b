"""Durations as workflows write them: ``"30s"``, ``"5m"``, ``"1h30m"``, ``"250ms"``, or a number of seconds."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# "ms" before "m" so that "250ms" is not read as 250 minutes and a stray "s"
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")

DURATION_PATTERN = r"^\s*(\d+(\.\d+)?|(\d+(\.\d+)?(ms|s|m|h|d))+)\s*$"
_HINT = "use a number of seconds or units like '30s', '5m', '1h30m', '250ms', '1d'"


class DurationError(ValueError):
    """A value that is not a duration; the message names the value and shows the accepted forms."""


def parse_duration(value: Any) -> float:
    """Seconds (>= 0) from ``12``, ``1.5``, ``"90"``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"250ms"``, ``"1d"``."""
    if isinstance(value, bool):  # bool is an int: `timeout: yes` is a mistake, not one second
        raise DurationError(f"invalid duration {value!r}: {_HINT}")
    if isinstance(value, int | float):
        seconds = float(value)
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


_DURATION_JSON_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": DURATION_PATTERN},
        ],
        "description": "seconds, or a duration such as '30s', '5m', '1h30m', '250ms'",
    }
)

#: a duration field: accepts seconds or "5m"-style text, holds float seconds, must be positive
Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0), _DURATION_JSON_SCHEMA]
#: like Duration, but zero is allowed (a retry delay of 0 means "retry at once")
NonNegativeDuration = Annotated[float, BeforeValidator(parse_duration), _DURATION_JSON_SCHEMA]
