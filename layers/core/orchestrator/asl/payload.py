"""Payload templates of JSONPath states: Parameters, ResultSelector, ItemSelector and Assign.

A key ending in ``.$`` takes its value from a reference path (``$.x``, ``$$.x``, ``$var``) or an intrinsic
function (``States.Format(...)``); every other value is copied as is. Templates are compiled once; parts
without ``.$`` keys are kept as shared constants (values are immutable by convention).
"""

from __future__ import annotations

from typing import Any

from orchestrator.asl import intrinsics
from orchestrator.asl.errors import StatesError, runtime_error
from orchestrator.asl.paths import (
    Frame,
    Reference,
    ReferenceNotFound,
    compile_reference,
    compile_reference_or_report,
)
from orchestrator.asl.values import to_json


def not_found_cause(missing: ReferenceNotFound, field: str) -> str:
    reference = missing.reference
    if reference.kind == "variable" and missing.searched is None and "is not defined" in missing.detail:
        return (
            f"The JSONPath '{reference.text}' specified for the field '{field}' could not be found: "
            f"{missing.detail}"
        )
    return (
        f"The JSONPath '{reference.text}' specified for the field '{field}' could not be found "
        f"in the input '{to_json(missing.searched)}'"
    )


class PathValue:
    """``"x.$": "$.a"`` — the value a reference path selects."""

    __slots__ = ("reference",)

    def __init__(self, reference: Reference) -> None:
        self.reference = reference

    @property
    def text(self) -> str:
        return self.reference.text

    def evaluate(self, data: Any, frame: Frame, field: str) -> Any:
        try:
            return self.reference.resolve(data, frame)
        except ReferenceNotFound as missing:
            raise runtime_error(not_found_cause(missing, field)) from None


class IntrinsicValue:
    """``"x.$": "States.Format('{}', $.a)"`` — the result of an intrinsic function call."""

    __slots__ = ("text", "parsed")

    def __init__(self, text: str, parsed: object) -> None:
        self.text = text
        self.parsed = parsed

    def evaluate(self, data: Any, frame: Frame, field: str) -> Any:
        def resolve_path(path_text: str) -> Any:
            return PathValue(compile_reference(path_text)).evaluate(data, frame, field)

        try:
            return intrinsics.evaluate_intrinsic(self.parsed, resolve_path)
        except intrinsics.IntrinsicError as failure:
            raise StatesError(failure.error, failure.cause) from None


DynamicValue = PathValue | IntrinsicValue


def compile_dynamic_value(text: Any, location: str, problems: list[str]) -> DynamicValue | None:
    """Compile the value of a ``.$`` field (or a *Path field that also takes intrinsics)."""
    if not isinstance(text, str):
        problems.append(f"{location}: must be a string holding a path or an intrinsic function")
        return None
    if intrinsics.is_intrinsic(text):
        try:
            return IntrinsicValue(text, intrinsics.parse_intrinsic(text))
        except intrinsics.IntrinsicParseError as invalid:
            problems.append(f"{location}: invalid intrinsic function {text!r}: {invalid}")
            return None
    reference = compile_reference_or_report(text, location, problems)
    return PathValue(reference) if reference is not None else None


# ---------------------------------------------------------------------------------------------------------
# Templates


class Template:
    """A compiled payload template; ``evaluate`` builds a fresh value (constants are shared)."""

    __slots__ = ()

    def evaluate(self, data: Any, frame: Frame) -> Any:
        raise NotImplementedError


class ConstantTemplate(Template):
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def evaluate(self, data: Any, frame: Frame) -> Any:
        return self.value


class ObjectTemplate(Template):
    # entries: (output key, field name for messages, dynamic value or None, sub-template or None)
    __slots__ = ("entries",)

    def __init__(self, entries: list[tuple[str, str, DynamicValue | None, Template | None]]) -> None:
        self.entries = entries

    def evaluate(self, data: Any, frame: Frame) -> Any:
        result = {}
        for key, field, dynamic, template in self.entries:
            if dynamic is not None:
                result[key] = dynamic.evaluate(data, frame, field)
            else:
                result[key] = template.evaluate(data, frame)  # type: ignore[union-attr]
        return result


class ArrayTemplate(Template):
    __slots__ = ("items",)

    def __init__(self, items: list[Template]) -> None:
        self.items = items

    def evaluate(self, data: Any, frame: Frame) -> Any:
        return [item.evaluate(data, frame) for item in self.items]


def compile_template(value: Any, location: str, problems: list[str]) -> Template:
    """Compile a Parameters-like template; problems are appended with their location."""
    if isinstance(value, dict):
        entries: list[tuple[str, str, DynamicValue | None, Template | None]] = []
        dynamic_found = False
        for key, item in value.items():
            if key.endswith(".$"):
                dynamic = compile_dynamic_value(item, f"{location}.{key}", problems)
                entries.append((key[:-2], key, dynamic, None))
                dynamic_found = True
            else:
                template = compile_template(item, f"{location}.{key}", problems)
                dynamic_found = dynamic_found or not isinstance(template, ConstantTemplate)
                entries.append((key, key, None, template))
        if not dynamic_found:
            return ConstantTemplate(value)
        return ObjectTemplate(entries)
    if isinstance(value, list):
        items = [compile_template(item, f"{location}[{i}]", problems) for i, item in enumerate(value)]
        if all(isinstance(item, ConstantTemplate) for item in items):
            return ConstantTemplate(value)
        return ArrayTemplate(items)
    return ConstantTemplate(value)
