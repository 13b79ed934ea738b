"""EventBridge event patterns: check a pattern and match events against it, with EventBridge's semantics.

Event triggers are EventBridge rules in the cloud; locally (and for ``POST /api/v1/events``) this module
decides. Both must agree, so the rules below are EventBridge's (Amazon's content-filtering docs and its
open-source matcher, aws/event-ruler).

A pattern mirrors the event's structure. Every key must match (AND); a key's value is either a nested
pattern object or a non-empty list of alternatives, any one of which may match (OR):

- JSON values match equal values: ``"state": ["running", 5, true, null]``. Numbers compare as numbers
  (``300`` matches ``3.0e2``); ``true`` is not ``1``; ``null`` is not ``""``.
- ``{"prefix": "us-"}``, ``{"suffix": ".png"}``, also ``{"prefix": {"equals-ignore-case": "eventb"}}``
- ``{"equals-ignore-case": "alice"}``
- ``{"wildcard": "dir/*.png"}``: ``*`` is any text; ``\\*`` a literal star, ``\\\\`` a backslash; no ``**``
- ``{"anything-but": ...}`` with a string, a number, a list of only strings or only numbers,
  ``{"prefix": s}``, ``{"suffix": s}``, ``{"equals-ignore-case": s | [s...]}``, ``{"wildcard": s | [s...]}``
- ``{"numeric": [">", 0, "<=", 5]}``: ``=`` alone, or a lower bound (``>``/``>=``), an upper bound
  (``<``/``<=``), or a lower then an upper bound
- ``{"cidr": "10.0.0.0/24"}`` (IPv4 and IPv6), ``{"exists": true | false}``
- ``"$or": [{...}, {...}]`` at any object level: at least one of two or more sub-patterns matches.

How values meet matchers:
- Keys the pattern does not name are ignored.
- When the event's value is an array, the key matches if any element matches (nested arrays are
  flattened). A nested pattern over an array of objects must match within one element: fields of
  different elements never combine (EventBridge's "array-consistent" matching).
- String matchers match strings only; ``numeric`` matches numbers only (not booleans).
- ``exists`` is about leaves: a key whose value is an object or an empty array does not exist, and a
  missing parent makes its children missing (so ``"exists": false`` matches).
- ``anything-but`` needs a value: a missing key matches no ``anything-but``, while a value of another
  type does match (``{"anything-but": "x"}`` matches ``5`` and ``null``).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["EventPattern", "InvalidEventPattern", "compile_pattern", "matches", "validate_pattern"]

Predicate = Callable[[Any], bool]

#: a key absent from the event (distinct from a present ``null``)
_MISSING: Any = object()

_OR = "$or"
_LOWER_BOUNDS = frozenset({">", ">="})
_UPPER_BOUNDS = frozenset({"<", "<="})
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": lambda value, bound: value > bound,
    ">=": lambda value, bound: value >= bound,
    "<": lambda value, bound: value < bound,
    "<=": lambda value, bound: value <= bound,
    "=": lambda value, bound: value == bound,
}


class InvalidEventPattern(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid event pattern: " + "; ".join(problems))


def validate_pattern(pattern: Any) -> list[str]:
    """Every problem of the pattern, each naming where it is (``detail.state[0]``); [] if it is valid."""
    compiler = _Compiler()
    compiler.compile(pattern)
    return compiler.problems


def compile_pattern(pattern: Any) -> EventPattern:
    """The pattern, checked once, ready to match many events. Raises InvalidEventPattern."""
    compiler = _Compiler()
    root = compiler.compile(pattern)
    if compiler.problems:
        raise InvalidEventPattern(compiler.problems)
    return EventPattern(root)


def matches(pattern: Any, event: dict[str, Any]) -> bool:
    """Whether the event matches the pattern. Raises InvalidEventPattern for a pattern EventBridge refuses."""
    return compile_pattern(pattern).matches(event)


# --- the compiled form --------------------------------------------------------------------------------


#: EventBridge's numeric matching works on values from -5.0e9 to +5.0e9
NUMERIC_LIMIT = 5e9


def _is_number(value: Any) -> bool:
    # JSON numbers; bool is an int subclass in Python but a separate JSON type
    return isinstance(value, int | float) and not isinstance(value, bool)


def _in_numeric_range(value: Any) -> bool:
    """A bound EventBridge accepts: a finite number within +-5e9 (a 400-digit integer is neither a float nor
    a bound; asking ``math.isfinite`` of it would raise)."""
    if not _is_number(value):
        return False
    try:
        return math.isfinite(float(value)) and abs(float(value)) <= NUMERIC_LIMIT
    except OverflowError:
        return False


def _flatten(values: list[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _flatten(value)
        else:
            yield value


def _leaf_values(value: Any) -> list[Any]:
    """The scalars a pattern list is compared with: none for a missing key, an object or an empty array."""
    if value is _MISSING or isinstance(value, dict):
        return []
    if isinstance(value, list):
        return [item for item in _flatten(value) if not isinstance(item, dict)]
    return [value]


@dataclass(frozen=True)
class _Leaf:
    predicates: tuple[Predicate, ...]
    #: the ``exists`` alternatives present: True for ``"exists": true``, False for ``"exists": false``
    exists: frozenset[bool]

    def matches(self, value: Any) -> bool:
        values = _leaf_values(value)
        if (True in self.exists and values) or (False in self.exists and not values):
            return True
        return any(predicate(item) for item in values for predicate in self.predicates)


@dataclass(frozen=True)
class _Object:
    fields: tuple[tuple[str, _Leaf | _Object], ...]
    #: ``$or`` branches; empty when the object has no ``$or``
    branches: tuple[_Object, ...]

    def matches(self, value: Any) -> bool:
        if isinstance(value, list):
            elements = [item for item in _flatten(value) if isinstance(item, dict)]
            if elements:
                return any(self.matches_fields(element) for element in elements)
        return self.matches_fields(value if isinstance(value, dict) else {})

    def matches_fields(self, obj: dict[str, Any]) -> bool:
        if not all(sub.matches(obj.get(key, _MISSING)) for key, sub in self.fields):
            return False
        return not self.branches or any(branch.matches_fields(obj) for branch in self.branches)


@dataclass(frozen=True)
class EventPattern:
    root: _Object

    def matches(self, event: dict[str, Any]) -> bool:
        if not isinstance(event, dict):
            raise TypeError(f"an event is a JSON object, not {type(event).__name__}")
        return self.root.matches_fields(event)


# --- value predicates ---------------------------------------------------------------------------------


def _equals(expected: Any) -> Predicate:
    if _is_number(expected):
        return lambda value: _is_number(value) and value == expected
    # str, bool or None: the same JSON type and value
    return lambda value: type(value) is type(expected) and value == expected


def _string_test(test: Callable[[str], bool]) -> Predicate:
    return lambda value: isinstance(value, str) and test(value)


def _negate(predicate: Predicate) -> Predicate:
    return lambda value: not predicate(value)


def _any_of(predicates: list[Predicate]) -> Predicate:
    return lambda value: any(predicate(value) for predicate in predicates)


# --- the compiler -------------------------------------------------------------------------------------


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Compiler:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where or 'pattern'}: {message}")

    def compile(self, pattern: Any) -> _Object:
        if not isinstance(pattern, dict):
            self.problem("", f"an event pattern is a JSON object, not {type(pattern).__name__}")
            return _Object((), ())
        return self.object(pattern, "", inside_or=False)

    def object(self, pattern: dict[str, Any], path: str, *, inside_or: bool) -> _Object:
        if not pattern:
            self.problem(path, "an object in a pattern must name at least one field")
        fields: list[tuple[str, _Leaf | _Object]] = []
        branches: tuple[_Object, ...] = ()
        for key, value in pattern.items():
            where = _at(path, str(key))
            if not isinstance(key, str):  # YAML reads `200:` as a number; event keys are always text
                self.problem(where, f"field names are strings; quote {key!r}")
                continue
            if key == _OR:
                branches = self.or_branches(value, where)
                continue
            if inside_or and key in _MATCHER_NAMES:
                # EventBridge refuses these: inside $or a matcher name would read as a misplaced matcher
                self.problem(where, f"{key!r} is a matcher name and cannot be a field name inside $or")
            if isinstance(value, dict):
                fields.append((key, self.object(value, where, inside_or=inside_or)))
            elif isinstance(value, list):
                fields.append((key, self.leaf(value, where)))
            else:
                self.problem(
                    where, f'must be a list of values (e.g. [{_json_text(value)}]) or an object of fields'
                )
        return _Object(tuple(fields), branches)

    def or_branches(self, value: Any, where: str) -> tuple[_Object, ...]:
        if not isinstance(value, list) or len(value) < 2:
            self.problem(where, "$or takes a list of at least two pattern objects")
            return ()
        branches = []
        for index, branch in enumerate(value):
            if isinstance(branch, dict):
                branches.append(self.object(branch, f"{where}[{index}]", inside_or=True))
            else:
                self.problem(f"{where}[{index}]", "each $or branch is a pattern object")
        return tuple(branches)

    def leaf(self, alternatives: list[Any], where: str) -> _Leaf:
        if not alternatives:
            self.problem(where, "an empty list matches nothing; list at least one value or matcher")
        predicates: list[Predicate] = []
        exists: set[bool] = set()
        for index, alternative in enumerate(alternatives):
            at = f"{where}[{index}]"
            if isinstance(alternative, dict):
                if len(alternative) != 1:
                    self.problem(at, f"a matcher has exactly one key, one of {', '.join(sorted(_MATCHER_NAMES))}")
                    continue
                name, argument = next(iter(alternative.items()))
                if name == "exists":
                    if isinstance(argument, bool):
                        exists.add(argument)
                    else:
                        self.problem(at, "exists takes true or false")
                    continue
                compile_matcher = _MATCHERS.get(name)
                if compile_matcher is None:
                    self.problem(at, f"unknown matcher {name!r} (known: {', '.join(sorted(_MATCHER_NAMES))})")
                    continue
                predicate = compile_matcher(self, argument, at)
                if predicate is not None:
                    predicates.append(predicate)
            elif isinstance(alternative, list):
                self.problem(at, "a list inside a value list is not allowed; put the values in one list")
            elif not isinstance(alternative, str | int | float | bool | None):
                # e.g. a date YAML parsed from an unquoted 2024-05-01
                self.problem(at, f"values are strings, numbers, true, false or null, not {type(alternative).__name__}")
            elif isinstance(alternative, float) and not math.isfinite(alternative):
                self.problem(at, "numbers must be finite")
            else:
                predicates.append(_equals(alternative))
        return _Leaf(tuple(predicates), frozenset(exists))

    # matchers: each returns the predicate, or None after reporting its problem

    def text(self, argument: Any, at: str, name: str) -> str | None:
        if isinstance(argument, str):
            return argument
        self.problem(at, f"{name} takes a string, not {_json_text(argument)}")
        return None

    def texts(self, argument: Any, at: str, name: str) -> list[str] | None:
        values = argument if isinstance(argument, list) else [argument]
        if not values or not all(isinstance(value, str) for value in values):
            self.problem(at, f"{name} takes a string or a non-empty list of strings")
            return None
        return values

    def prefix(self, argument: Any, at: str) -> Predicate | None:
        return self.affix(argument, at, "prefix", str.startswith)

    def suffix(self, argument: Any, at: str) -> Predicate | None:
        return self.affix(argument, at, "suffix", str.endswith)

    def affix(
        self, argument: Any, at: str, name: str, test: Callable[[str, str], bool]
    ) -> Predicate | None:
        if isinstance(argument, dict) and list(argument) == ["equals-ignore-case"]:
            text = self.text(argument["equals-ignore-case"], at, f"{name}.equals-ignore-case")
            if text is None:
                return None
            folded = text.lower()
            return _string_test(lambda value: test(value.lower(), folded))
        text = self.text(argument, at, name)
        if text is None:
            return None
        return _string_test(lambda value: test(value, text))

    def equals_ignore_case(self, argument: Any, at: str) -> Predicate | None:
        text = self.text(argument, at, "equals-ignore-case")
        if text is None:
            return None
        folded = text.lower()
        return _string_test(lambda value: value.lower() == folded)

    def wildcard(self, argument: Any, at: str) -> Predicate | None:
        text = self.text(argument, at, "wildcard")
        regex = self.wildcard_regex(text, at) if text is not None else None
        if regex is None:
            return None
        return _string_test(lambda value: regex.fullmatch(value) is not None)

    def wildcard_regex(self, text: str, at: str) -> re.Pattern[str] | None:
        parts: list[str] = []
        index = 0
        while index < len(text):
            char = text[index]
            if char == "\\":
                escaped = text[index + 1 : index + 2]
                if escaped not in ("*", "\\"):
                    self.problem(at, f"in wildcard {text!r} a backslash may only escape '*' or '\\'")
                    return None
                parts.append(re.escape(escaped))
                index += 2
                continue
            if char == "*":
                if parts and parts[-1] == ".*":
                    self.problem(at, f"wildcard {text!r} has consecutive '*' characters")
                    return None
                parts.append(".*")
            else:
                parts.append(re.escape(char))
            index += 1
        return re.compile("".join(parts), re.DOTALL)

    def numeric(self, argument: Any, at: str) -> Predicate | None:
        usage = 'numeric takes ["=", n], [">"|">=", n], ["<"|"<=", n] or [">"|">=", low, "<"|"<=", high]'
        if not isinstance(argument, list) or len(argument) not in (2, 4):
            self.problem(at, usage)
            return None
        pairs = [(argument[i], argument[i + 1]) for i in range(0, len(argument), 2)]
        for operator, bound in pairs:
            if operator not in _COMPARE:
                self.problem(at, f"unknown numeric operator {_json_text(operator)}; {usage}")
                return None
            if not _in_numeric_range(bound):
                self.problem(at, f"the bound of {operator!r} must be a number from -5e9 to 5e9 (EventBridge's "
                                 f"range), not {_json_text(bound)[:40]}")
                return None
        if len(pairs) == 2:
            (low_op, low), (high_op, high) = pairs
            if low_op not in _LOWER_BOUNDS or high_op not in _UPPER_BOUNDS:
                self.problem(at, f"a numeric range is a lower bound then an upper bound; {usage}")
                return None
            if low >= high:
                self.problem(at, f"the numeric range is empty: {low} is not below {high}")
                return None
        tests = [(_COMPARE[operator], bound) for operator, bound in pairs]
        return lambda value: _is_number(value) and all(test(value, bound) for test, bound in tests)

    def cidr(self, argument: Any, at: str) -> Predicate | None:
        text = self.text(argument, at, "cidr")
        if text is None:
            return None
        try:
            if "/" not in text:
                raise ValueError("no prefix length")
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            self.problem(at, f"cidr {text!r} is not an IP range like '10.0.0.0/24' or '2001:db8::/32'")
            return None

        def in_network(value: Any) -> bool:
            if not isinstance(value, str):
                return False
            try:
                return ipaddress.ip_address(value) in network
            except ValueError:
                return False

        return in_network

    def anything_but(self, argument: Any, at: str) -> Predicate | None:
        if isinstance(argument, dict):
            if len(argument) != 1 or next(iter(argument)) not in _ANYTHING_BUT_FORMS:
                self.problem(at, f"anything-but takes an object with one of: {', '.join(_ANYTHING_BUT_FORMS)}")
                return None
            name, inner = next(iter(argument.items()))
            return self.anything_but_form(name, inner, at)
        values = argument if isinstance(argument, list) else [argument]
        all_strings = all(isinstance(value, str) for value in values)
        all_numbers = all(_in_numeric_range(value) for value in values)
        if not values or not (all_strings or all_numbers):
            self.problem(at, "anything-but takes a string, a number, or a non-empty list of only strings or only numbers")
            return None
        return _negate(_any_of([_equals(value) for value in values]))

    def anything_but_form(self, name: str, inner: Any, at: str) -> Predicate | None:
        at_form = f"{at}.anything-but"
        if name in ("prefix", "suffix"):
            text = self.text(inner, at_form, name)
            if text is None:
                return None
            if not text:
                self.problem(at_form, f"anything-but {name} must not be empty")
                return None
            test = str.startswith if name == "prefix" else str.endswith
            return _negate(_string_test(lambda value: test(value, text)))
        texts = self.texts(inner, at_form, name)
        if texts is None:
            return None
        build = self.equals_ignore_case if name == "equals-ignore-case" else self.wildcard
        predicates = [build(text, at_form) for text in texts]
        if any(predicate is None for predicate in predicates):
            return None
        return _negate(_any_of([predicate for predicate in predicates if predicate is not None]))


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


_MatcherCompiler = Callable[[_Compiler, Any, str], "Predicate | None"]

#: matcher name -> how its argument compiles
_MATCHERS: dict[str, _MatcherCompiler] = {
    "prefix": _Compiler.prefix,
    "suffix": _Compiler.suffix,
    "equals-ignore-case": _Compiler.equals_ignore_case,
    "wildcard": _Compiler.wildcard,
    "anything-but": _Compiler.anything_but,
    "numeric": _Compiler.numeric,
    "cidr": _Compiler.cidr,
}
#: every matcher name; ``exists`` tests presence, not a value, so ``_Compiler.leaf`` handles it itself
_MATCHER_NAMES = frozenset({*_MATCHERS, "exists"})
_ANYTHING_BUT_FORMS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
