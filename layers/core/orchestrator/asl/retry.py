"""Retriers and Catchers: which error they match, the backoff between attempts, where a caught error goes."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from orchestrator.asl.errors import KNOWN_STATES_ERRORS, STATES_ALL, StatesError, error_matches

MAX_INTERVAL_SECONDS = 99_999_999
MAX_DELAY_SECONDS = 31_622_401  # AWS accepts 1 .. 31622401


@dataclass(frozen=True, slots=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: int = 1
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: int | None = None
    full_jitter: bool = False

    def matches(self, error: StatesError) -> bool:
        return any(error_matches(pattern, error) for pattern in self.error_equals)

    def delay(self, retries_so_far: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retries_so_far + 1``.

        IntervalSeconds * BackoffRate^n, capped by MaxDelaySeconds; FULL jitter draws uniformly from
        [0, that delay].
        """
        delay = self.interval_seconds * self.backoff_rate**retries_so_far
        if self.max_delay_seconds is not None:
            delay = min(delay, self.max_delay_seconds)
        if self.full_jitter:
            delay = rng.uniform(0, delay)
        return float(delay)


@dataclass(frozen=True, slots=True)
class Catcher:
    error_equals: tuple[str, ...]
    next: str
    # JSONPath: ResultPath (None = absent, i.e. "$") and whether it is JSON null (discard the error);
    # Assign template. JSONata: Output and Assign expressions. Kept as opaque compiled objects.
    result_path: Any = None
    discard_result: bool = False
    assign: Any = None
    output: Any = None

    def matches(self, error: StatesError) -> bool:
        return any(error_matches(pattern, error) for pattern in self.error_equals)


def first_matching(handlers: tuple[Any, ...], error: StatesError) -> tuple[int, Any] | None:
    for index, handler in enumerate(handlers):
        if handler.matches(error):
            return index, handler
    return None


def validate_error_equals(value: Any, location: str, is_last: bool, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.append(f"{location}: must be a non-empty array of error names")
        return ()
    for name in value:
        if name.startswith("States.") and name not in KNOWN_STATES_ERRORS:
            problems.append(f"{location}: unknown error name {name!r} (names starting with 'States.' are reserved)")
    if STATES_ALL in value:
        if len(value) != 1:
            problems.append(f"{location}: States.ALL must appear alone in ErrorEquals")
        elif not is_last:
            problems.append(f"{location}: States.ALL must be in the last Retrier/Catcher")
    return tuple(value)


def compile_retrier(raw: Any, location: str, is_last: bool, problems: list[str]) -> Retrier | None:
    if not isinstance(raw, dict):
        problems.append(f"{location}: a Retrier must be an object")
        return None
    allowed = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"}
    for key in raw:
        if key not in allowed:
            problems.append(f"{location}.{key}: unknown field in a Retrier")
    error_equals = validate_error_equals(raw.get("ErrorEquals"), f"{location}.ErrorEquals", is_last, problems)
    interval = raw.get("IntervalSeconds", 1)
    if not _is_int(interval) or not 1 <= interval <= MAX_INTERVAL_SECONDS:
        problems.append(f"{location}.IntervalSeconds: must be an integer from 1 to {MAX_INTERVAL_SECONDS}")
    attempts = raw.get("MaxAttempts", 3)
    if not _is_int(attempts) or not 0 <= attempts <= MAX_INTERVAL_SECONDS:
        problems.append(f"{location}.MaxAttempts: must be an integer from 0 to {MAX_INTERVAL_SECONDS}")
    rate = raw.get("BackoffRate", 2.0)
    if not isinstance(rate, int | float) or isinstance(rate, bool) or rate < 1.0:
        problems.append(f"{location}.BackoffRate: must be a number greater than or equal to 1.0")
    max_delay = raw.get("MaxDelaySeconds")
    if max_delay is not None and (not _is_int(max_delay) or not 1 <= max_delay <= MAX_DELAY_SECONDS):
        problems.append(f"{location}.MaxDelaySeconds: must be an integer from 1 to {MAX_DELAY_SECONDS}")
    jitter = raw.get("JitterStrategy", "NONE")
    if jitter not in ("FULL", "NONE"):
        problems.append(f"{location}.JitterStrategy: must be FULL or NONE")
    if len(problems) and any(p.startswith(location) for p in problems):
        return None
    return Retrier(
        error_equals=error_equals,
        interval_seconds=int(interval),
        max_attempts=int(attempts),
        backoff_rate=float(rate),
        max_delay_seconds=int(max_delay) if max_delay is not None else None,
        full_jitter=jitter == "FULL",
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
