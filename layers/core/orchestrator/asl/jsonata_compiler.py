"""Compiles JSONata states (QueryLanguage "JSONata"): Arguments, Output, Assign, Items, Condition and the
fields that take an expression instead of a number or timestamp."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestrator.asl import jsonata_eval
from orchestrator.asl.errors import query_evaluation_error
from orchestrator.asl.graph import JSONATA
from orchestrator.asl.jsonata_flow import JsonataFlow, JsonataValue, evaluate, states_binding
from orchestrator.asl.paths import VARIABLE_NAME
from orchestrator.asl.retry import Catcher
from orchestrator.asl.states.choice_state import ChoiceRule
from orchestrator.asl.states.map_state import CountSetting
from orchestrator.asl.states.pass_state import PassState
from orchestrator.asl.states.terminal_states import FailState, SucceedState
from orchestrator.asl.states.wait_state import MAX_WAIT_SECONDS, WaitState
from orchestrator.asl.timestamps import parse_timestamp
from orchestrator.asl.values import is_integral, to_json

if TYPE_CHECKING:
    from orchestrator.asl.state_compiler import StateCompiler

_RESULT_STATES = frozenset({"Task", "Map", "Parallel"})


class JsonataCompiler:
    def __init__(self, compiler: StateCompiler) -> None:
        self.compiler = compiler

    def problem(self, message: str) -> None:
        self.compiler.problem(message)

    # -- building blocks ------------------------------------------------------------------------------------

    def template(self, value: Any, field: str, location: str) -> jsonata_eval.CompiledTemplate | None:
        try:
            return jsonata_eval.compile_jsonata_template(value, field)
        except jsonata_eval.JsonataSyntaxError as invalid:
            self.problem(f"{location}: {invalid}")
            return None

    def field(self, raw: dict[str, Any], key: str, location: str) -> jsonata_eval.CompiledTemplate | None:
        return self.template(raw[key], key, f"{location}.{key}") if key in raw else None

    def assign(self, raw: dict[str, Any], location: str) -> jsonata_eval.CompiledTemplate | None:
        if "Assign" not in raw:
            return None
        value = raw["Assign"]
        if not isinstance(value, dict):
            self.problem(f"{location}.Assign: must be an object mapping variable names to values")
            return None
        for name in value:
            if not VARIABLE_NAME.fullmatch(name) or name == "states" or len(name) > 80:
                self.problem(f"{location}.Assign.{name}: invalid variable name {name!r}")
        return self.template(value, "Assign", f"{location}.Assign")

    def value(self, raw_value: Any, key: str, location: str) -> JsonataValue | None:
        compiled = self.template(raw_value, key, f"{location}.{key}")
        return JsonataValue(compiled, raw_value) if compiled is not None else None

    def flow(self, raw: dict[str, Any], location: str, state_type: str) -> JsonataFlow:
        return JsonataFlow(
            arguments=self.field(raw, "Arguments", location),
            output=self.field(raw, "Output", location),
            assign=self.assign(raw, location),
            has_result=state_type in _RESULT_STATES,
        )

    def catcher(self, entry: dict[str, Any], location: str, error_equals: tuple[str, ...]) -> Catcher:
        return Catcher(
            error_equals,
            entry["Next"],
            output=self.field(entry, "Output", location),
            assign=self.assign(entry, location),
        )

    # -- states ---------------------------------------------------------------------------------------------

    def state(self, name: str, raw: dict[str, Any], location: str, state_type: str, next_state: str | None) -> Any:
        flow = self.flow(raw, location, state_type)
        return getattr(self, f"_{state_type.lower()}")(name, raw, location, next_state, flow)

    def _pass(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonataFlow) -> Any:
        return PassState(name, next_state, flow)

    def _succeed(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonataFlow) -> Any:
        return SucceedState(name, None, flow)

    def _fail(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonataFlow) -> Any:
        return FailState(name, flow, self._fail_text(raw, "Error", location), self._fail_text(raw, "Cause", location))

    def _fail_text(self, raw: dict[str, Any], key: str, location: str) -> Any:
        if key not in raw:
            return None
        text = raw[key]
        if not isinstance(text, str):
            self.problem(f"{location}.{key}: must be a string or a JSONata expression")
            return None
        if not jsonata_eval.is_jsonata_expression(text):
            return text
        value = self.value(text, key, location)
        return _FieldEvaluator(value) if value is not None else None

    def _choice(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonataFlow) -> Any:
        return self.compiler.choice(name, raw, location, flow, self._choice_rule)

    def _choice_rule(self, rule: Any, location: str, flow: JsonataFlow) -> ChoiceRule | None:
        if not isinstance(rule, dict):
            self.problem(f"{location}: a choice rule must be an object")
            return None
        for key in rule:
            if key not in ("Condition", "Next", "Output", "Assign", "Comment"):
                self.problem(f"{location}.{key}: unknown field in a JSONata choice rule (use Condition)")
        if "Condition" not in rule:
            self.problem(f"{location}.Condition: missing (a JSONata choice rule needs a Condition)")
            return None
        if not isinstance(rule.get("Next"), str):
            self.problem(f"{location}.Next: missing (every choice rule needs a Next state)")
            return None
        condition = self._condition(rule["Condition"], location)
        if condition is None:
            return None
        rule_flow = flow.with_rule(self.field(rule, "Output", location), self.assign(rule, location))
        return ChoiceRule(condition, rule["Next"], rule_flow)

    def _condition(self, raw_condition: Any, location: str) -> Any:
        if isinstance(raw_condition, bool):
            return lambda data, frame: raw_condition
        if not jsonata_eval.is_jsonata_expression(raw_condition):
            self.problem(f"{location}.Condition: must be true, false or a JSONata expression {{% ... %}}")
            return None
        value = self.value(raw_condition, "Condition", location)
        if value is None:
            return None

        def condition(data: Any, frame: Any) -> bool:
            result = value(frame, data)
            if not isinstance(result, bool):
                raise value.unexpected_type("Condition", "boolean", result)
            return result

        return condition

    def _wait(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonataFlow) -> Any:
        modes = [key for key in ("Seconds", "Timestamp") if key in raw]
        if len(modes) != 1:
            self.problem(f"{location}: needs exactly one of Seconds, Timestamp")
            return None
        mode = modes[0]
        raw_value = raw[mode]
        if mode == "Seconds":
            if isinstance(raw_value, int) and not isinstance(raw_value, bool) and 0 <= raw_value <= MAX_WAIT_SECONDS:
                return WaitState(name, next_state, flow, seconds=raw_value)
            if not jsonata_eval.is_jsonata_expression(raw_value):
                self.problem(f"{location}.Seconds: must be an integer from 0 to {MAX_WAIT_SECONDS} or a JSONata expression")
                return None
            value = self.value(raw_value, "Seconds", location)
            if value is None:
                return None

            def seconds(frame: Any, data: Any) -> int:
                result = value(frame, data)
                if not is_integral(result) or not 0 <= result <= MAX_WAIT_SECONDS:
                    raise query_evaluation_error(
                        f"The Seconds field must be an integer from 0 to {MAX_WAIT_SECONDS}: {to_json(result)}"
                    )
                return int(result)

            return WaitState(name, next_state, flow, seconds_expression=seconds)
        if isinstance(raw_value, str) and not jsonata_eval.is_jsonata_expression(raw_value):
            return self.compiler.timestamp_wait(name, next_state, flow, raw_value, location)
        value = self.value(raw_value, "Timestamp", location)
        if value is None:
            return None

        def timestamp(frame: Any, data: Any) -> datetime:
            result = value(frame, data)
            parsed = parse_timestamp(result)
            if parsed is None:
                shown = result if isinstance(result, str) else to_json(result)
                raise query_evaluation_error(
                    f"The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {shown}"
                )
            return parsed[0]

        return WaitState(name, next_state, flow, timestamp_expression=timestamp)

    def _task(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonataFlow) -> Any:
        return self.compiler.task(name, raw, location, next_state, flow, JSONATA)

    def _parallel(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonataFlow) -> Any:
        return self.compiler.parallel(name, raw, location, next_state, flow, JSONATA)

    def _map(self, name: str, raw: dict[str, Any], location: str, next_state: str | None, flow: JsonataFlow) -> Any:
        compiler = self.compiler
        processor = compiler.processor(raw, location, JSONATA)
        items = self._items(raw, location)
        selector = self.field(raw, "ItemSelector", location)
        item_selector = None
        if selector is not None:

            def item_selector(frame: Any, selected: Any, template: Any = selector) -> Any:
                return evaluate(template, frame, states_binding(frame, selected))

        return compiler.map(
            name, raw, location, next_state, flow, JSONATA, processor,
            items_path=None, items_expression=items, item_selector=item_selector, count=self._count,
        )

    def _items(self, raw: dict[str, Any], location: str) -> Any:
        if "Items" not in raw:

            def input_items(frame: Any, data: Any) -> list[Any]:
                if not isinstance(data, list):
                    raise query_evaluation_error(f"Map state input must be an array but was: {to_json(data)}")
                return data

            return input_items
        raw_items = raw["Items"]
        if not isinstance(raw_items, list) and not jsonata_eval.is_jsonata_expression(raw_items):
            self.problem(f"{location}.Items: must be an array or a JSONata expression")
            return None
        value = self.value(raw_items, "Items", location)
        if value is None:
            return None

        def items(frame: Any, data: Any) -> list[Any]:
            result = value(frame, data)
            if not isinstance(result, list):
                raise value.unexpected_type("Items", "array", result)
            return result

        return items

    def _count(
        self, raw: dict[str, Any], key: str, location: str, *, allow_fraction: bool = False, upper: float | None = None
    ) -> CountSetting | None:
        if key not in raw:
            return None
        raw_value = raw[key]
        if jsonata_eval.is_jsonata_expression(raw_value):
            value = self.value(raw_value, key, location)
            if value is None:
                return None
            return CountSetting(key, expression=value, allow_fraction=allow_fraction, upper_bound=upper)
        return self.compiler.count_setting(raw, key, location, allow_fraction=allow_fraction, upper=upper)


class _FieldEvaluator:
    """Adapts a JSONata value to the evaluate(data, frame, field) form the Fail state uses."""

    __slots__ = ("value",)

    def __init__(self, value: JsonataValue) -> None:
        self.value = value

    def evaluate(self, data: Any, frame: Any, field: str) -> Any:
        return self.value(frame, data)
