"""Pass: its result is ``Result`` (or the effective input) placed by ResultPath."""

from __future__ import annotations

from typing import Any

from orchestrator.asl.runtime import StateRun
from orchestrator.asl.states.base import State

_NO_RESULT = object()


class PassState(State):
    type_name = "Pass"
    is_sync = True

    def __init__(self, name: str, next_state: str | None, flow: Any, result: Any = _NO_RESULT) -> None:
        super().__init__(name, next_state, flow)
        self.result = result

    def run_sync(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        flow = self.flow
        effective = flow.effective_input(data, run)
        result = effective if self.result is _NO_RESULT else self.result
        output, assigned = flow.output(data, result, run)
        return self.next, run.exit(output, assigned)


NO_RESULT = _NO_RESULT
