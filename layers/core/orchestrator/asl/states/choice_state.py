"""Choice: the first rule that matches picks the next state (and its own Assign/Output), else Default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.asl.errors import STATES_NO_CHOICE_MATCHED, StatesError
from orchestrator.asl.runtime import StateRun
from orchestrator.asl.states.base import State


@dataclass(frozen=True, slots=True)
class ChoiceRule:
    condition: Any  # (data, frame) -> bool
    next: str
    flow: Any  # the state's data flow with this rule's Assign/Output


class ChoiceState(State):
    type_name = "Choice"
    is_sync = True

    def __init__(self, name: str, flow: Any, rules: tuple[ChoiceRule, ...], default: str | None) -> None:
        super().__init__(name, None, flow)
        self.rules = rules
        self.default = default

    def run_sync(self, run: StateRun, data: Any) -> tuple[str | None, Any]:
        effective = self.flow.select_input(data, run)
        for rule in self.rules:
            if rule.condition(effective, run):
                output, assigned = rule.flow.output(data, effective, run)
                return rule.next, run.exit(output, assigned)
        if self.default is None:
            raise StatesError(
                STATES_NO_CHOICE_MATCHED,
                f"No choice rule matched and the Choice state '{self.name}' has no Default.",
            )
        output, assigned = self.flow.output(data, effective, run)
        return self.default, run.exit(output, assigned)
