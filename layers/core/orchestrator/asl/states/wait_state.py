"""Wait: for Seconds / SecondsPath, or until Timestamp / TimestampPath (durable across a resume)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from orchestrator.asl.errors import runtime_error
from orchestrator.asl.paths import Reference, ReferenceNotFound
from orchestrator.asl.runtime import StateRun
from orchestrator.asl.states.base import State
from orchestrator.asl.timestamps import parse_timestamp
from orchestrator.asl.values import to_json

MAX_WAIT_SECONDS = 99_999_999


class WaitState(State):
    type_name = "Wait"

    def __init__(
        self,
        name: str,
        next_state: str | None,
        flow: Any,
        *,
        seconds: int | None = None,
        timestamp: datetime | None = None,
        seconds_path: Reference | None = None,
        timestamp_path: Reference | None = None,
        seconds_expression: Any = None,
        timestamp_expression: Any = None,
    ) -> None:
        super().__init__(name, next_state, flow)
        self.seconds = seconds
        self.timestamp = timestamp
        self.seconds_path = seconds_path
        self.timestamp_path = timestamp_path
        # JSONata: compiled expressions that compute seconds / a timestamp string from the frame.
        self.seconds_expression = seconds_expression
        self.timestamp_expression = timestamp_expression

    async def run(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        effective = self.flow.select_input(data, run)
        deadline = self.deadline(run, effective)
        await run.execution.sleep_until(run.key, deadline)
        output, assigned = self.flow.output(data, effective, run)
        return self.next, run.exit(output, assigned)

    def deadline(self, run: StateRun, effective: Any) -> datetime:
        now = run.execution.clock.now()
        if self.seconds is not None:
            return now + timedelta(seconds=self.seconds)
        if self.timestamp is not None:
            return self.timestamp
        if self.seconds_path is not None:
            return now + timedelta(seconds=self._seconds_from_path(run, effective))
        if self.timestamp_path is not None:
            return self._timestamp_from_path(run, effective)
        if self.seconds_expression is not None:
            return now + timedelta(seconds=self.seconds_expression(run, effective))
        return self.timestamp_expression(run, effective)

    def _seconds_from_path(self, run: StateRun, effective: Any) -> int:
        path = self.seconds_path
        assert path is not None
        try:
            value = path.resolve(effective, run)
        except ReferenceNotFound:
            raise runtime_error(f"The SecondsPath parameter does not reference an input value: {path.text}") from None
        shown = value if isinstance(value, str) else to_json(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise runtime_error(f"The SecondsPath parameter cannot be parsed as a long value: {path.text} == {shown}")
        if value < 0:
            raise runtime_error(f"The SecondsPath parameter references a negative value: {path.text} == {shown}")
        return value

    def _timestamp_from_path(self, run: StateRun, effective: Any) -> datetime:
        path = self.timestamp_path
        assert path is not None
        try:
            value = path.resolve(effective, run)
        except ReferenceNotFound:
            raise runtime_error(f"The TimestampPath parameter does not reference an input value: {path.text}") from None
        parsed = parse_timestamp(value)
        if parsed is None:
            shown = value if isinstance(value, str) else to_json(value)
            raise runtime_error(
                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time "
                f"format string: {path.text} == {shown}"
            )
        return parsed[0]
