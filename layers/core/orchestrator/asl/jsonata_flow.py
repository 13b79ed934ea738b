"""How a JSONata state turns its input into its output.

    $states.input (the raw input) -> Arguments -> (the state's work) -> $states.result
    Output and Assign are evaluated side by side from $states.input / .result / .context; caught errors
    give $states.errorOutput to the Catcher's Output and Assign.

Without Output, a state that produces a result (Task, Map, Parallel) outputs the result, the others
their input; a Catcher without Output outputs the error output. Expressions come compiled from
``orchestrator.asl.jsonata_eval``; their failures are States.QueryEvaluationError.
"""

from __future__ import annotations

from typing import Any

from orchestrator.asl import jsonata_eval
from orchestrator.asl.errors import StatesError, query_evaluation_error
from orchestrator.asl.retry import Catcher
from orchestrator.asl.values import json_type_name, to_json


def states_binding(frame: Any, data: Any, **extra: Any) -> dict[str, Any]:
    states = {"input": data, "context": frame.context}
    states.update(extra)
    return states


def evaluate(compiled: jsonata_eval.CompiledTemplate, frame: Any, states: dict[str, Any]) -> Any:
    """Evaluate a compiled field with ``$states`` and the variables in scope."""
    if not compiled.has_expressions:
        return jsonata_eval.evaluate_template(compiled, states, {})
    try:
        return jsonata_eval.evaluate_template(compiled, states, frame.variables())
    except jsonata_eval.JsonataError as failure:
        raise StatesError(failure.error, failure.cause) from None
    except (ArithmeticError, LookupError, TypeError, ValueError) as failure:
        # The JSONata library lets some function errors out as plain Python exceptions (e.g. $number on
        # text): they are still the expression failing, not the interpreter.
        raise query_evaluation_error(
            f"The JSONata expression specified for the field '{compiled.field}' threw an error during "
            f"evaluation. {type(failure).__name__}: {failure}"
        ) from None


class JsonataValue:
    """One JSONata field (Seconds, Items, MaxConcurrency, ...) as a callable (frame, data) -> value."""

    __slots__ = ("compiled", "expression")

    def __init__(self, compiled: jsonata_eval.CompiledTemplate, source: Any) -> None:
        self.compiled = compiled
        # The expression text AWS quotes in messages: the string between {% and %}, trimmed.
        self.expression = source[2:-2].strip() if jsonata_eval.is_jsonata_expression(source) else None

    def __call__(self, frame: Any, data: Any) -> Any:
        return evaluate(self.compiled, frame, states_binding(frame, data))

    def unexpected_type(self, field: str, expected: str, value: Any) -> StatesError:
        return query_evaluation_error(
            f"The JSONata expression '{self.expression}' specified for the field '{field}' returned an unexpected "
            f"result type. Expected '{expected}', but was '{json_type_name(value)}' for value: {to_json(value)}"
        )


class JsonataFlow:
    __slots__ = ("arguments", "output_template", "assign", "has_result")

    def __init__(
        self,
        *,
        arguments: jsonata_eval.CompiledTemplate | None = None,
        output: jsonata_eval.CompiledTemplate | None = None,
        assign: jsonata_eval.CompiledTemplate | None = None,
        has_result: bool = False,
    ) -> None:
        self.arguments = arguments
        self.output_template = output
        self.assign = assign
        self.has_result = has_result

    def with_rule(self, output: Any, assign: Any) -> JsonataFlow:
        """The flow of a Choice rule: the rule's own Output and Assign."""
        return JsonataFlow(output=output, assign=assign, has_result=self.has_result)

    @staticmethod
    def select_input(raw: Any, frame: Any) -> Any:
        return raw  # JSONata states have no InputPath

    def effective_input(self, raw: Any, frame: Any) -> Any:
        if self.arguments is None:
            return raw
        return evaluate(self.arguments, frame, states_binding(frame, raw))

    def output(self, raw: Any, result: Any, frame: Any) -> tuple[Any, dict[str, Any] | None]:
        states = states_binding(frame, raw, result=result) if self.has_result else states_binding(frame, raw)
        assigned = evaluate(self.assign, frame, states) if self.assign is not None else None
        if self.output_template is not None:
            output = evaluate(self.output_template, frame, states)
        else:
            output = result if self.has_result else raw
        return output, assigned

    @staticmethod
    def caught_output(catcher: Catcher, raw: Any, error: StatesError, frame: Any) -> tuple[Any, dict[str, Any] | None]:
        error_output = error.error_output()
        states = states_binding(frame, raw, errorOutput=error_output)
        assigned = evaluate(catcher.assign, frame, states) if catcher.assign is not None else None
        output = evaluate(catcher.output, frame, states) if catcher.output is not None else error_output
        return output, assigned
