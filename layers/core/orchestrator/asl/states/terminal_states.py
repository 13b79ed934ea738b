"""Succeed and Fail: the states that end a branch."""

from __future__ import annotations

from typing import Any

from orchestrator.asl.errors import StatesError
from orchestrator.asl.runtime import StateRun
from orchestrator.asl.states.base import State
from orchestrator.asl.values import to_json


class SucceedState(State):
    type_name = "Succeed"
    is_sync = True

    def run_sync(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        effective = self.flow.select_input(data, run)
        output, assigned = self.flow.output(data, effective, run)
        return None, run.exit(output, assigned)


class FailState(State):
    """Fails the branch with Error/Cause, which may come from a path, an intrinsic or an expression."""

    type_name = "Fail"
    is_sync = True

    def __init__(self, name: str, flow: Any, error: Any, cause: Any) -> None:
        super().__init__(name, None, flow)
        self.exited_event_type = None
        # Each is None, a literal string, or a compiled value with evaluate(data, frame, field).
        self.error = error
        self.cause = cause

    def run_sync(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        error = _text(self.error, data, run, "Error")
        cause = _text(self.cause, data, run, "Cause")
        raise StatesError(error, cause)


def _text(spec: Any, data: Any, run: StateRun, field: str) -> str | None:
    if spec is None or isinstance(spec, str):
        return spec
    value = spec.evaluate(data, run, field)
    return value if isinstance(value, str) or value is None else to_json(value)
