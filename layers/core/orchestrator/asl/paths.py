"""Reference paths of JSONPath states: ``$...`` (the data), ``$$...`` (the Context object) and
``$name...`` (a workflow variable), compiled once; plus ResultPath writes (copy-on-write).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from orchestrator.asl.errors import STATES_RESULT_PATH_MATCH_FAILURE, StatesError, runtime_error
from orchestrator.asl.jsonpath import JsonPath, PathNotFound, PathSyntaxError, compile_path
from orchestrator.asl.values import to_json

T = TypeVar("T")

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Frame(Protocol):
    """What a reference needs from the running state: the Context object and the variables."""

    @property
    def context(self) -> dict[str, Any]: ...

    def variable(self, name: str) -> Any:
        """The variable's value; raises KeyError when it is not defined in scope."""

    def variables(self) -> dict[str, Any]:
        """Every variable in scope (JSONata binds them all)."""


class ReferenceNotFound(LookupError):
    """A reference selected nothing. ``detail`` is the JSONPath engine's message."""

    def __init__(self, reference: Reference, detail: str, searched: Any) -> None:
        super().__init__(detail)
        self.reference = reference
        self.detail = detail
        self.searched = searched


class Reference:
    """A compiled ``$`` / ``$$`` / ``$var`` reference."""

    __slots__ = ("text", "path")
    kind = "input"

    def __init__(self, text: str, path: JsonPath) -> None:
        self.text = text
        self.path = path

    @property
    def definite(self) -> bool:
        return self.path.definite

    def source(self, data: Any, frame: Frame) -> Any:
        return data

    def resolve(self, data: Any, frame: Frame) -> Any:
        searched = self.source(data, frame)
        if self.path.is_root:
            return searched
        try:
            return self.path.find(searched)
        except PathNotFound as missing:
            raise ReferenceNotFound(self, str(missing), searched) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"


class InputReference(Reference):
    __slots__ = ()


class ContextReference(Reference):
    __slots__ = ()
    kind = "context"

    def source(self, data: Any, frame: Frame) -> Any:
        return frame.context


class VariableReference(Reference):
    __slots__ = ("name",)
    kind = "variable"

    def __init__(self, text: str, name: str, path: JsonPath) -> None:
        super().__init__(text, path)
        self.name = name

    def source(self, data: Any, frame: Frame) -> Any:
        try:
            return frame.variable(self.name)
        except KeyError:
            raise ReferenceNotFound(self, f"The variable '${self.name}' is not defined", None) from None


_references: dict[str, Reference] = {}


def compile_reference(text: str) -> Reference:
    """Compile ``$...``, ``$$...`` or ``$name...`` (raises PathSyntaxError)."""
    cached = _references.get(text)
    if cached is not None:
        return cached
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"a path must start with '$': {text!r}")
    reference: Reference
    if text.startswith("$$"):
        reference = ContextReference(text, compile_path(text[1:]))
    elif len(text) > 1 and text[1] not in ".[":
        match = VARIABLE_NAME.match(text, 1)
        if match is None:
            raise PathSyntaxError(f"invalid variable reference {text!r}")
        name = match.group(0)
        reference = VariableReference(text, name, compile_path("$" + text[match.end() :]))
    else:
        reference = InputReference(text, compile_path(text))
    if len(_references) < 10_000:
        _references[text] = reference
    return reference


def invalid_path_error(reference: Reference, missing: ReferenceNotFound) -> StatesError:
    """States.Runtime for a path field (InputPath, ItemsPath, TimeoutSecondsPath, ...) that selects nothing."""
    return runtime_error(f"Invalid path '{reference.text}' : {missing.detail}")


# ---------------------------------------------------------------------------------------------------------
# ResultPath


class ResultPath:
    """Where a state's result goes in its input. ``None`` (JSON null) discards the result."""

    __slots__ = ("text", "keys")

    def __init__(self, text: str, keys: tuple[str | int, ...]) -> None:
        self.text = text
        self.keys = keys

    def apply(self, state_input: Any, result: Any) -> Any:
        if not self.keys:
            return result
        return self._write(state_input, 0, result, state_input)

    def _write(self, node: Any, depth: int, result: Any, state_input: Any) -> Any:
        key = self.keys[depth]
        last = depth == len(self.keys) - 1
        if isinstance(key, str):
            if not isinstance(node, dict):
                raise self._mismatch(state_input)
            child = node.get(key)
            if not last and child is None:
                child = {}
            updated = dict(node)
            updated[key] = result if last else self._write(child, depth + 1, result, state_input)
            return updated
        if not isinstance(node, list) or not -len(node) <= key < len(node):
            raise self._mismatch(state_input)
        updated_list = list(node)
        updated_list[key] = result if last else self._write(node[key], depth + 1, result, state_input)
        return updated_list

    def _mismatch(self, state_input: Any) -> StatesError:
        return StatesError(
            STATES_RESULT_PATH_MATCH_FAILURE,
            f"Unable to apply ReferencePath {self.text} to input {to_json(state_input)}",
        )


def compile_result_path(text: str) -> ResultPath:
    """Compile a ResultPath: a definite path into the state input (raises PathSyntaxError)."""
    reference = compile_reference(text)
    if not isinstance(reference, InputReference):
        raise PathSyntaxError(f"ResultPath must select into the state input ('$...'), not {text!r}")
    if not reference.path.definite:
        raise PathSyntaxError(f"ResultPath must be a definite path (names and indexes only): {text!r}")
    return ResultPath(text, reference.path.keys)


# For a definition being checked: the problem is reported and None returned instead of an exception.


def compile_reference_or_report(
    text: Any, location: str, problems: list[str], *, not_a_string: str = "must be a path string"
) -> Reference | None:
    return _compile_or_report(compile_reference, text, location, problems, not_a_string, name_the_path=True)


def compile_result_path_or_report(text: Any, location: str, problems: list[str]) -> ResultPath | None:
    # compile_result_path's messages name the path already
    return _compile_or_report(
        compile_result_path, text, location, problems, "must be a path string or null", name_the_path=False
    )


def _compile_or_report(
    compile_text: Callable[[str], T],
    text: Any,
    location: str,
    problems: list[str],
    not_a_string: str,
    *,
    name_the_path: bool,
) -> T | None:
    if not isinstance(text, str):
        problems.append(f"{location}: {not_a_string}")
        return None
    try:
        return compile_text(text)
    except PathSyntaxError as invalid:
        problems.append(f"{location}: invalid path {text!r}: {invalid}" if name_the_path else f"{location}: {invalid}")
        return None
