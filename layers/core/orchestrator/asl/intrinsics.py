"""Step Functions intrinsic functions (``States.Format(...)`` and friends) for JSONPath states.

An expression is parsed once, when the state machine is loaded, into a tree of closures; evaluating it
afterwards only walks those closures. Paths inside the expression (``$.a``, ``$$.Execution.Id``,
``$myVar.x``) are handed verbatim to the ``resolve_path`` callable the interpreter supplies.

AWS behaviours reproduced here, with the evidence each rests on:

* Every runtime failure of an intrinsic is ``States.Runtime`` with the cause
  ``Invalid arguments in States.<Name>`` (AWS executions observed by public conformance suites; the
  interpreter adds the usual "An error occurred while executing the state ..." prefix).
* Wrong argument counts are runtime failures too, not definition errors: AWS accepts
  ``States.Hash()`` at creation time and fails the execution.
* Fractional arguments are truncated towards zero (ArrayRange, ArrayPartition, ArrayGetItem,
  MathRandom), except MathAdd, which rounds like Java's ``Math.round`` (recorded: -1.5 + 0 = -1).
* States.Format renders objects and arrays the way Java's ``Map``/``List`` ``toString`` does
  (recorded: ``{Arg1=1, Arg2=[]}``) and null as ``null``.
* States.StringSplit splits on any of the delimiter's characters and drops empty tokens (recorded).
* States.StringToJson of an empty string is null (recorded).
* Hash, Base64Encode and Base64Decode accept at most 10,000 characters of input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "HASH_ALGORITHMS",
    "Intrinsic",
    "IntrinsicError",
    "IntrinsicParseError",
    "evaluate_intrinsic",
    "is_intrinsic",
    "parse_intrinsic",
]

PathResolver = Callable[[str], Any]
_Evaluator = Callable[[PathResolver], Any]

RUNTIME_ERROR = "States.Runtime"
MAX_NESTING_DEPTH = 10  # "You can nest up to 10 intrinsic functions within a field" (AWS docs)
MAX_ARRAY_RANGE_ITEMS = 1000
MAX_STRING_INPUT_CHARS = 10_000  # Hash, Base64Encode and Base64Decode inputs

# Reserved characters inside a quoted literal (AWS docs: "Reserved characters in intrinsic functions").
_ESCAPABLE_CHARACTERS = frozenset("'{}\\")
_NUMBER_PATTERN = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_FUNCTION_NAME_PATTERN = re.compile(r"States\.([A-Za-z0-9]+)\(")
_INTRINSIC_SHAPE = re.compile(r"States\.[A-Za-z0-9]+\(.*\)", re.DOTALL)
_KEYWORD_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
# States.Hash and JSONata's $hash take the same algorithm names.
HASH_ALGORITHMS = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}


class IntrinsicParseError(ValueError):
    """The text is not a well-formed intrinsic function call; the message says where."""


class IntrinsicError(Exception):
    """An intrinsic failed at run time; ``error``/``cause`` are what AWS reports (cause without state prefix)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Intrinsic:
    """A parsed intrinsic call, ready to evaluate any number of times (and from any thread)."""

    text: str
    function_name: str
    _evaluate: _Evaluator = field(repr=False, compare=False)


def is_intrinsic(text: str) -> bool:
    """True when ``text`` has the shape ``States.Name(...)`` (it may still fail to parse)."""
    return isinstance(text, str) and _INTRINSIC_SHAPE.fullmatch(text) is not None


def parse_intrinsic(text: str) -> Intrinsic:
    """Parse ``text`` into an :class:`Intrinsic`; raises :class:`IntrinsicParseError` on bad syntax."""
    if not isinstance(text, str):
        raise IntrinsicParseError(f"Intrinsic function call must be a string, got {type(text).__name__}")
    parser = _Parser(text)
    call = parser.parse_call(depth=1)
    parser.expect_end()
    return Intrinsic(text=text, function_name=call.qualified_name, _evaluate=_compile(call))


def evaluate_intrinsic(parsed: Intrinsic, resolve_path: PathResolver) -> Any:
    """Evaluate a parsed intrinsic; raises :class:`IntrinsicError` (or whatever ``resolve_path`` raises)."""
    return parsed._evaluate(resolve_path)


# --------------------------------------------------------------------------------------------------
# Syntax tree
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FormatTemplate:
    """A States.Format template split at its ``{}`` placeholders, or marked malformed (stray brace)."""

    pieces: tuple[str, ...] = ()  # literal text around the placeholders: placeholders == len(pieces) - 1
    malformed: bool = False

    @property
    def placeholder_count(self) -> int:
        return len(self.pieces) - 1


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any
    # Only quoted strings have one: escaped braces (\{ \}) are text, not placeholders, when the
    # literal is a Format template, so the template must be read from the raw characters.
    format_template: _FormatTemplate | None = None


@dataclass(frozen=True, slots=True)
class _PathArgument:
    path: str


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    arguments: tuple[_Literal | _PathArgument | _Call, ...]

    @property
    def qualified_name(self) -> str:
        return f"States.{self.name}"


_Argument = _Literal | _PathArgument | _Call


class _Parser:
    """Recursive-descent parser over the intrinsic argument grammar."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def fail(self, message: str) -> IntrinsicParseError:
        return IntrinsicParseError(
            f"Invalid intrinsic function {self.text!r}: {message} at position {self.position}"
        )

    def skip_whitespace(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def expect_end(self) -> None:
        if self.position != len(self.text):
            raise self.fail(f"unexpected {self.text[self.position :]!r} after the closing parenthesis")

    def parse_call(self, depth: int) -> _Call:
        if depth > MAX_NESTING_DEPTH:
            raise self.fail(f"more than {MAX_NESTING_DEPTH} nested intrinsic functions")
        match = _FUNCTION_NAME_PATTERN.match(self.text, self.position)
        if match is None:
            raise self.fail("expected an intrinsic function call 'States.<Name>('")
        name = match.group(1)
        if name not in _FUNCTIONS:
            raise self.fail(f"unknown intrinsic function 'States.{name}'")
        self.position = match.end()
        arguments: list[_Argument] = []
        self.skip_whitespace()
        if self.peek() == ")":
            self.position += 1
            return _Call(name, ())
        while True:
            self.skip_whitespace()
            arguments.append(self.parse_argument(depth))
            self.skip_whitespace()
            separator = self.peek()
            if separator == ",":
                self.position += 1
            elif separator == ")":
                self.position += 1
                return _Call(name, tuple(arguments))
            else:
                raise self.fail("expected ',' or ')'")

    def peek(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""

    def parse_argument(self, depth: int) -> _Argument:
        character = self.peek()
        if character == "'":
            return self.parse_string()
        if character == "$":
            return self.parse_path()
        if character == "-" or character.isdigit():
            return self.parse_number()
        if self.text.startswith("States.", self.position):
            return self.parse_call(depth + 1)
        for keyword, value in _KEYWORD_LITERALS.items():
            end = self.position + len(keyword)
            if self.text.startswith(keyword, self.position) and not _is_word_character(self.text, end):
                self.position = end
                return _Literal(value)
        if not character:
            raise self.fail("unexpected end of text, expected an argument")
        raise self.fail(f"unexpected character {character!r}, expected an argument")

    def parse_string(self) -> _Literal:
        start = self.position
        self.position += 1  # opening quote
        value_characters: list[str] = []
        template_pieces: list[str] = []
        template_text: list[str] = []
        malformed_template = False
        while True:
            if self.position >= len(self.text):
                self.position = start
                raise self.fail("unterminated string literal")
            character = self.text[self.position]
            if character == "'":
                self.position += 1
                break
            if character == "\\":
                escaped = self.text[self.position + 1 : self.position + 2]
                if escaped not in _ESCAPABLE_CHARACTERS:
                    raise self.fail(r"invalid escape sequence (only \' \{ \} \\ are allowed)")
                value_characters.append(escaped)
                template_text.append(escaped)
                self.position += 2
                continue
            value_characters.append(character)
            if character == "{" and self.text.startswith("{}", self.position):
                template_pieces.append("".join(template_text))
                template_text = []
                value_characters.append("}")
                self.position += 2
                continue
            if character in "{}":
                malformed_template = True
            template_text.append(character)
            self.position += 1
        template_pieces.append("".join(template_text))
        template = (
            _FormatTemplate(malformed=True) if malformed_template else _FormatTemplate(tuple(template_pieces))
        )
        return _Literal("".join(value_characters), template)

    def parse_number(self) -> _Literal:
        match = _NUMBER_PATTERN.match(self.text, self.position)
        if match is None:
            raise self.fail("invalid number")
        self.position = match.end()
        if _is_word_character(self.text, self.position):
            raise self.fail("invalid number")
        number_text = match.group(0)
        is_integer = not any(marker in number_text for marker in ".eE")
        return _Literal(int(number_text) if is_integer else float(number_text))

    def parse_path(self) -> _PathArgument:
        start = self.position
        bracket_depth = 0
        quote: str | None = None
        while self.position < len(self.text):
            character = self.text[self.position]
            if quote is not None:
                if character == "\\":
                    self.position += 1
                elif character == quote:
                    quote = None
            elif character in "'\"" and bracket_depth:
                quote = character
            elif character == "[":
                bracket_depth += 1
            elif character == "]":
                bracket_depth -= 1
            elif bracket_depth == 0 and (character in ",)" or character.isspace()):
                break
            self.position += 1
        if quote is not None or bracket_depth:
            self.position = start
            raise self.fail("unterminated path")
        return _PathArgument(self.text[start : self.position])


def _is_word_character(text: str, index: int) -> bool:
    return index < len(text) and (text[index].isalnum() or text[index] in "_.")


# --------------------------------------------------------------------------------------------------
# Compilation to closures
# --------------------------------------------------------------------------------------------------


def _compile(node: _Argument) -> _Evaluator:
    if isinstance(node, _Literal):
        value = node.value
        return lambda _resolve: value
    if isinstance(node, _PathArgument):
        path = node.path
        return lambda resolve: resolve(path)
    return _compile_call(node)


def _compile_call(call: _Call) -> _Evaluator:
    spec = _FUNCTIONS[call.name]
    qualified_name = call.qualified_name
    argument_count = len(call.arguments)
    if argument_count < spec.min_arguments or (
        spec.max_arguments is not None and argument_count > spec.max_arguments
    ):

        def wrong_arity(_resolve: PathResolver) -> Any:
            raise _invalid_arguments(qualified_name)

        return wrong_arity

    # States.Format is the one function whose behaviour depends on how an argument was written: a
    # quoted template's escaped braces are text, so its implementation is built from the syntax tree.
    implementation = (
        _format_implementation(call.arguments[0]) if spec.implementation is None else spec.implementation
    )
    argument_evaluators = tuple(_compile(argument) for argument in call.arguments)

    def evaluate(resolve: PathResolver) -> Any:
        return implementation([evaluate_argument(resolve) for evaluate_argument in argument_evaluators])

    return evaluate


@dataclass(frozen=True, slots=True)
class _FunctionSpec:
    min_arguments: int
    max_arguments: int | None
    implementation: Callable[[list[Any]], Any] | None  # None: built per call site (States.Format)


def _invalid_arguments(qualified_name: str) -> IntrinsicError:
    return IntrinsicError(RUNTIME_ERROR, f"Invalid arguments in {qualified_name}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _require(condition: bool, function_name: str) -> None:
    if not condition:
        raise _invalid_arguments(f"States.{function_name}")


def _truncated_integer(value: Any, function_name: str) -> int:
    _require(_is_number(value), function_name)
    return int(value)


def _java_round(value: float) -> int:
    # Java's Math.round: ties go towards positive infinity (-1.5 -> -1, 2.5 -> 3). x - floor(x) is exact
    # for doubles, which floor(x + 0.5) is not (0.49999999999999994 would round up).
    floor = math.floor(value)
    return floor + 1 if value - floor >= 0.5 else floor


def _canonical_json(value: Any) -> str:
    # Jackson's node equality: object key order does not matter; 1, 1.0 and true are all different.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------------------------------
# States.Format
# --------------------------------------------------------------------------------------------------


def _format_implementation(template_argument: _Argument) -> Callable[[list[Any]], Any]:
    literal_template = template_argument.format_template if isinstance(template_argument, _Literal) else None

    def format_arguments(arguments: list[Any]) -> str:
        if literal_template is not None:
            template = literal_template
        else:
            _require(isinstance(arguments[0], str), "Format")
            template = _parse_format_template(arguments[0])
        values = arguments[1:]
        _require(not template.malformed and template.placeholder_count == len(values), "Format")
        rendered = [template.pieces[0]]
        for value, text_after in zip(values, template.pieces[1:], strict=True):
            rendered.append(_java_string(value))
            rendered.append(text_after)
        return "".join(rendered)

    return format_arguments


def _parse_format_template(template: str) -> _FormatTemplate:
    if "{" not in template and "}" not in template:
        return _FormatTemplate((template,))
    pieces = template.split("{}")
    if any("{" in piece or "}" in piece for piece in pieces):
        return _FormatTemplate(malformed=True)
    return _FormatTemplate(tuple(pieces))


def _java_string(value: Any) -> str:
    """Render a value the way AWS's Java runtime prints it inside States.Format."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _java_double_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_java_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_java_string(item)}" for key, item in value.items()) + "}"
    return str(value)


def _java_double_string(value: float) -> str:
    """Java's ``Double.toString``: plain notation in [1e-3, 1e7), otherwise ``d.dddE<n>``."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    shortest = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(str(digit) for digit in shortest.digits)
    exponent = int(shortest.exponent)
    if 1e-3 <= abs(value) < 1e7:
        if exponent >= 0:
            return f"{sign}{digits}{'0' * exponent}.0"
        point = len(digits) + exponent
        if point > 0:
            return f"{sign}{digits[:point]}.{digits[point:]}"
        return f"{sign}0.{'0' * -point}{digits}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{len(digits) + exponent - 1}"


# --------------------------------------------------------------------------------------------------
# The functions
# --------------------------------------------------------------------------------------------------


def _array(arguments: list[Any]) -> list[Any]:
    return list(arguments)


def _array_partition(arguments: list[Any]) -> list[list[Any]]:
    array, chunk_argument = arguments
    _require(isinstance(array, list), "ArrayPartition")
    chunk_size = _truncated_integer(chunk_argument, "ArrayPartition")
    _require(chunk_size > 0, "ArrayPartition")
    return [array[start : start + chunk_size] for start in range(0, len(array), chunk_size)]


def _array_contains(arguments: list[Any]) -> bool:
    array, wanted = arguments
    _require(isinstance(array, list), "ArrayContains")
    wanted_key = _canonical_json(wanted)
    return any(_canonical_json(item) == wanted_key for item in array)


def _array_range(arguments: list[Any]) -> list[int]:
    start, end, step = (_truncated_integer(argument, "ArrayRange") for argument in arguments)
    _require(step != 0, "ArrayRange")
    item_count = max(0, (end - start) // step + 1)
    _require(item_count <= MAX_ARRAY_RANGE_ITEMS, "ArrayRange")
    return list(range(start, start + item_count * step, step))


def _array_get_item(arguments: list[Any]) -> Any:
    array, index_argument = arguments
    _require(isinstance(array, list), "ArrayGetItem")
    index = _truncated_integer(index_argument, "ArrayGetItem")
    if not array:
        return None  # AWS answers null for any index into an empty array, yet fails past the end of others
    _require(0 <= index < len(array), "ArrayGetItem")
    return array[index]


def _array_length(arguments: list[Any]) -> int:
    (array,) = arguments
    _require(isinstance(array, list), "ArrayLength")
    return len(array)


def _array_unique(arguments: list[Any]) -> list[Any]:
    (array,) = arguments
    _require(isinstance(array, list), "ArrayUnique")
    seen: set[str] = set()
    unique: list[Any] = []
    for item in array:
        key = _canonical_json(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _bounded_string(value: Any, function_name: str) -> str:
    _require(isinstance(value, str) and len(value) <= MAX_STRING_INPUT_CHARS, function_name)
    return value


def _base64_encode(arguments: list[Any]) -> str:
    text = _bounded_string(arguments[0], "Base64Encode")
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")


def _base64_decode(arguments: list[Any]) -> str:
    text = _bounded_string(arguments[0], "Base64Decode")
    # AWS decodes leniently (observed: ' YWJjZA== ', '!!!invalid!!!' and 'abc' all decode): characters
    # outside the alphabet are skipped, the first '=' ends the data and a lone trailing character is
    # dropped. URL-safe '-' and '_' count as '+' and '/'.
    data = "".join(character for character in text.split("=", 1)[0] if character in _BASE64_ALPHABET)
    data = data[: len(data) - len(data) % 4] if len(data) % 4 == 1 else data
    data = data.translate(str.maketrans("-_", "+/"))
    try:
        decoded = base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except binascii.Error as error:
        raise _invalid_arguments("States.Base64Decode") from error
    return decoded.decode("utf-8", errors="replace")


def _hash(arguments: list[Any]) -> str:
    data, algorithm = arguments
    _require(isinstance(algorithm, str) and algorithm in HASH_ALGORITHMS, "Hash")
    # AWS hashes a non-string value rather than rejecting it (observed); its JSON text is what we hash.
    text = _bounded_string(data if isinstance(data, str) else _compact_json(data), "Hash")
    return HASH_ALGORITHMS[algorithm](text.encode("utf-8")).hexdigest()


def _json_merge(arguments: list[Any]) -> dict[str, Any]:
    first, second, deep = arguments
    _require(isinstance(first, dict) and isinstance(second, dict), "JsonMerge")
    # Only the shallow mode exists; AWS rejects deep merging (true) at run time.
    _require(deep is False, "JsonMerge")
    return {**first, **second}


def _json_to_string(arguments: list[Any]) -> str:
    return _compact_json(arguments[0])


def _reject_non_finite_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _string_to_json(arguments: list[Any]) -> Any:
    (text,) = arguments
    _require(isinstance(text, str), "StringToJson")
    if not text.strip():
        return None  # recorded: AWS turns "" into null
    try:
        return json.loads(text, parse_constant=_reject_non_finite_constant)
    except ValueError as error:
        raise _invalid_arguments("States.StringToJson") from error


def _math_random(arguments: list[Any]) -> int:
    start = _truncated_integer(arguments[0], "MathRandom")
    end = _truncated_integer(arguments[1], "MathRandom")
    _require(start < end, "MathRandom")
    if len(arguments) == 3:
        generator = random.Random(_truncated_integer(arguments[2], "MathRandom"))
        return generator.randrange(start, end)
    return random.randrange(start, end)


def _math_add(arguments: list[Any]) -> int:
    total = 0
    for argument in arguments:
        _require(_is_number(argument), "MathAdd")
        total += argument if isinstance(argument, int) else _java_round(argument)
    return total


def _string_split(arguments: list[Any]) -> list[str]:
    text, delimiters = arguments
    _require(isinstance(text, str) and isinstance(delimiters, str), "StringSplit")
    if not delimiters:
        return [text] if text else []
    pattern = "[" + re.escape(delimiters) + "]"
    return [token for token in re.split(pattern, text) if token]


def _uuid(_arguments: list[Any]) -> str:
    return str(uuid.uuid4())


_FUNCTIONS: dict[str, _FunctionSpec] = {
    "Format": _FunctionSpec(1, None, None),
    "StringToJson": _FunctionSpec(1, 1, _string_to_json),
    "JsonToString": _FunctionSpec(1, 1, _json_to_string),
    "Array": _FunctionSpec(0, None, _array),
    "ArrayPartition": _FunctionSpec(2, 2, _array_partition),
    "ArrayContains": _FunctionSpec(2, 2, _array_contains),
    "ArrayRange": _FunctionSpec(3, 3, _array_range),
    "ArrayGetItem": _FunctionSpec(2, 2, _array_get_item),
    "ArrayLength": _FunctionSpec(1, 1, _array_length),
    "ArrayUnique": _FunctionSpec(1, 1, _array_unique),
    "Base64Encode": _FunctionSpec(1, 1, _base64_encode),
    "Base64Decode": _FunctionSpec(1, 1, _base64_decode),
    "Hash": _FunctionSpec(2, 2, _hash),
    "JsonMerge": _FunctionSpec(3, 3, _json_merge),
    "MathRandom": _FunctionSpec(2, 3, _math_random),
    "MathAdd": _FunctionSpec(2, 2, _math_add),
    "StringSplit": _FunctionSpec(2, 2, _string_split),
    "UUID": _FunctionSpec(0, 0, _uuid),
}
