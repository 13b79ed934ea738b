"""Choice rules of JSONPath states compiled to predicates: comparisons (and their *Path forms), the Is*
tests, StringMatches, And / Or / Not.

A comparison between values of the wrong types is false (NumericEquals on "42" does not match); a
Variable (or *Path operand) that selects nothing is a States.Runtime error, except for IsPresent.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from orchestrator.asl.errors import runtime_error
from orchestrator.asl.paths import Frame, Reference, ReferenceNotFound, compile_reference_or_report
from orchestrator.asl.timestamps import parse_timestamp, timestamp_sort_key
from orchestrator.asl.values import is_number

Condition = Callable[[Any, Frame], bool]

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "GreaterThan": operator.gt,
    "LessThanEquals": operator.le,
    "GreaterThanEquals": operator.ge,
}


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _is_timestamp(value: Any) -> bool:
    return parse_timestamp(value) is not None


# Family -> (type test of both operands, key to compare by, description of the literal for messages)
_FAMILIES: dict[str, tuple[Callable[[Any], bool], Callable[[Any], Any], str]] = {
    "String": (_is_string, lambda v: v, "a string"),
    "Numeric": (is_number, lambda v: v, "a number"),
    "Boolean": (_is_boolean, lambda v: v, "a boolean"),
    "Timestamp": (_is_timestamp, timestamp_sort_key, "an RFC 3339 timestamp string"),
}

COMPARISON_OPERATORS: dict[str, tuple[str, str, bool]] = {}
for _family in _FAMILIES:
    for _relation in _ORDERINGS:
        if _family == "Boolean" and _relation != "Equals":
            continue
        COMPARISON_OPERATORS[f"{_family}{_relation}"] = (_family, _relation, False)
        COMPARISON_OPERATORS[f"{_family}{_relation}Path"] = (_family, _relation, True)

TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": is_number,
    "IsString": _is_string,
    "IsBoolean": _is_boolean,
    "IsTimestamp": _is_timestamp,
}

ALL_OPERATORS = frozenset([*COMPARISON_OPERATORS, *TYPE_TESTS, "IsPresent", "StringMatches"])
_RULE_FIELDS_TOP = frozenset({"Next", "Comment", "Assign"})


def invalid_value_error(path_text: str) -> Exception:
    return runtime_error(
        f"Invalid path '{path_text}': The choice state's condition path references an invalid value."
    )


def _resolve(reference: Reference, data: Any, frame: Frame) -> Any:
    try:
        return reference.resolve(data, frame)
    except ReferenceNotFound:
        raise invalid_value_error(reference.text) from None


def compile_string_matches(pattern: str) -> re.Pattern[str]:
    """``*`` matches any run of characters; ``\\*`` is a literal star and ``\\\\`` a backslash."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "*\\":
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def compile_rule(rule: Any, location: str, problems: list[str], *, top_level: bool) -> Condition | None:
    """Compile a JSONPath Choice rule; returns None (with problems recorded) if it is invalid."""
    if not isinstance(rule, dict):
        problems.append(f"{location}: a choice rule must be an object")
        return None
    allowed_extra = _RULE_FIELDS_TOP if top_level else frozenset({"Comment"})
    if top_level and "Next" not in rule:
        problems.append(f"{location}.Next: missing (every top-level choice rule needs a Next state)")
    if not top_level and "Next" in rule:
        problems.append(f"{location}.Next: only top-level choice rules may have Next")
    combinators = [key for key in ("And", "Or", "Not") if key in rule]
    operators = [key for key in rule if key in ALL_OPERATORS]
    unknown = [
        key
        for key in rule
        if key not in ALL_OPERATORS and key not in ("And", "Or", "Not", "Variable") and key not in allowed_extra
    ]
    for key in unknown:
        problems.append(f"{location}.{key}: unknown field in a choice rule")
    if len(combinators) + len(operators) != 1:
        problems.append(
            f"{location}: a choice rule needs exactly one of And, Or, Not or a comparison operator "
            f"(found {', '.join(combinators + operators) or 'none'})"
        )
        return None
    if combinators:
        if "Variable" in rule:
            problems.append(f"{location}.Variable: not allowed with {combinators[0]}")
        return _compile_combinator(combinators[0], rule[combinators[0]], location, problems)
    return _compile_comparison(rule, operators[0], location, problems)


def _compile_combinator(kind: str, operand: Any, location: str, problems: list[str]) -> Condition | None:
    if kind == "Not":
        inner = compile_rule(operand, f"{location}.Not", problems, top_level=False)
        if inner is None:
            return None
        return lambda data, frame: not inner(data, frame)
    if not isinstance(operand, list) or not operand:
        problems.append(f"{location}.{kind}: must be a non-empty array of choice rules")
        return None
    compiled = [
        compile_rule(item, f"{location}.{kind}[{i}]", problems, top_level=False) for i, item in enumerate(operand)
    ]
    if any(c is None for c in compiled):
        return None
    rules: list[Condition] = compiled  # type: ignore[assignment]
    if kind == "And":
        return lambda data, frame: all(rule(data, frame) for rule in rules)
    return lambda data, frame: any(rule(data, frame) for rule in rules)


def _compile_comparison(rule: dict[str, Any], op: str, location: str, problems: list[str]) -> Condition | None:
    variable = compile_reference_or_report(
        rule.get("Variable"), f"{location}.Variable", problems,
        not_a_string="missing or not a string (a comparison needs a Variable path)",
    )
    if variable is None:
        return None
    operand = rule[op]
    where = f"{location}.{op}"

    if op == "IsPresent" or op in TYPE_TESTS:
        if not isinstance(operand, bool):
            problems.append(f"{where}: must be true or false")
            return None
        return _compile_type_test(op, operand, variable)

    if op == "StringMatches":
        if not isinstance(operand, str):
            problems.append(f"{where}: must be a string pattern")
            return None
        pattern = compile_string_matches(operand)

        def string_matches(data: Any, frame: Frame) -> bool:
            value = _resolve(variable, data, frame)
            return isinstance(value, str) and pattern.fullmatch(value) is not None

        return string_matches

    family, relation, is_path = COMPARISON_OPERATORS[op]
    type_test, sort_key, description = _FAMILIES[family]
    compare = _ORDERINGS[relation]
    if is_path:
        other = compile_reference_or_report(operand, where, problems)
        if other is None:
            return None

        def compare_with_path(data: Any, frame: Frame) -> bool:
            value = _resolve(variable, data, frame)
            expected = _resolve(other, data, frame)
            if not (type_test(value) and type_test(expected)):
                return False
            return compare(sort_key(value), sort_key(expected))

        return compare_with_path

    if not type_test(operand):
        problems.append(f"{where}: must be {description}")
        return None
    expected_key = sort_key(operand)

    def compare_with_literal(data: Any, frame: Frame) -> bool:
        value = _resolve(variable, data, frame)
        return type_test(value) and compare(sort_key(value), expected_key)

    return compare_with_literal


def _compile_type_test(op: str, expected: bool, variable: Reference) -> Condition:
    if op == "IsPresent":

        def is_present(data: Any, frame: Frame) -> bool:
            try:
                variable.resolve(data, frame)
            except ReferenceNotFound:
                return not expected
            return expected

        return is_present

    test = TYPE_TESTS[op]

    def type_test(data: Any, frame: Frame) -> bool:
        return test(_resolve(variable, data, frame)) is expected

    return type_test
