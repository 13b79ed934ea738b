"""How a JSONPath state turns its input into its output:

    raw input -> InputPath -> Parameters -> (the state's work) -> result
    result -> Assign (reads the result) ; ResultSelector -> ResultPath (into the raw input) -> OutputPath

Caught errors skip ResultSelector and OutputPath: the Catcher's ResultPath places {"Error", "Cause"} into the
raw input. Values are never mutated; ResultPath copies only the objects along its path.
"""

from __future__ import annotations

from typing import Any

from orchestrator.asl.errors import StatesError
from orchestrator.asl.paths import Frame, Reference, ReferenceNotFound, ResultPath, invalid_path_error
from orchestrator.asl.payload import Template
from orchestrator.asl.retry import Catcher


def select(reference: Reference | None, data: Any, frame: Frame, discard: bool) -> Any:
    """Apply InputPath/OutputPath: absent keeps the data, JSON null (``discard``) gives {}."""
    if discard:
        return {}
    if reference is None:
        return data
    try:
        return reference.resolve(data, frame)
    except ReferenceNotFound as missing:
        raise invalid_path_error(reference, missing) from None


class JsonPathFlow:
    __slots__ = (
        "input_path",
        "discard_input",
        "parameters",
        "result_selector",
        "result_path",
        "discard_result",
        "output_path",
        "discard_output",
        "assign",
    )

    def __init__(
        self,
        *,
        input_path: Reference | None = None,
        discard_input: bool = False,
        parameters: Template | None = None,
        result_selector: Template | None = None,
        result_path: ResultPath | None = None,
        discard_result: bool = False,
        output_path: Reference | None = None,
        discard_output: bool = False,
        assign: Template | None = None,
    ) -> None:
        self.input_path = input_path
        self.discard_input = discard_input
        self.parameters = parameters
        self.result_selector = result_selector
        self.result_path = result_path
        self.discard_result = discard_result
        self.output_path = output_path
        self.discard_output = discard_output
        self.assign = assign

    def select_input(self, raw: Any, frame: Frame) -> Any:
        """InputPath only (Map applies its ItemsPath and ItemSelector between the two steps)."""
        return select(self.input_path, raw, frame, self.discard_input)

    def effective_input(self, raw: Any, frame: Frame) -> Any:
        """InputPath, then Parameters."""
        selected = select(self.input_path, raw, frame, self.discard_input)
        if self.parameters is None:
            return selected
        return self.parameters.evaluate(selected, frame)

    def assignments(self, value: Any, frame: Frame) -> dict[str, Any] | None:
        if self.assign is None:
            return None
        return self.assign.evaluate(value, frame)

    def output(self, raw: Any, result: Any, frame: Frame) -> tuple[Any, dict[str, Any] | None]:
        """(state output, variables to assign) from the state's result."""
        assigned = self.assignments(result, frame)
        if self.result_selector is not None:
            result = self.result_selector.evaluate(result, frame)
        if self.discard_result:
            combined = raw
        elif self.result_path is None:
            combined = result
        else:
            combined = self.result_path.apply(raw, result)
        return select(self.output_path, combined, frame, self.discard_output), assigned

    @staticmethod
    def caught_output(catcher: Catcher, raw: Any, error: StatesError, frame: Frame) -> tuple[Any, dict[str, Any] | None]:
        """A Catcher's output: its ResultPath places {"Error", "Cause"} in the raw input (no OutputPath)."""
        error_output = error.error_output()
        assigned = catcher.assign.evaluate(error_output, frame) if catcher.assign is not None else None
        if catcher.discard_result:
            return raw, assigned
        if catcher.result_path is None:
            return error_output, assigned
        return catcher.result_path.apply(raw, error_output), assigned
