"""JSONata evaluation for states whose QueryLanguage is JSONata, as AWS Step Functions does it.

A field value (``Output``, ``Arguments``, ``Assign``, ``Items``, ...) is compiled once, at load time, into
a :class:`CompiledTemplate`: every ``"{% expr %}"`` string anywhere inside dicts and lists is compiled
with jsonata-python, everything else is kept as a constant. Evaluating the template binds ``$states``
and the workflow variables and returns plain JSON values (dict/list/str/int/float/bool/None).

AWS behaviours reproduced here:

* Only a string that starts with ``{%`` and ends with ``%}`` is an expression; ``" {% x %} "`` is a
  literal (recorded case BASE_LITERALS).
* An expression that evaluates to nothing fails with ``States.QueryEvaluationError`` and the cause
  ``The JSONata expression '<expr>' specified for the field '<field>' returned nothing (undefined).``
  (recorded). ``<expr>`` is the text between the delimiters without surrounding blanks; ``<field>`` is
  the field name, ``/key`` per object key and ``[i]`` per array index (``Output/a/b[0]``).
* A function as a result fails with ``... returned an unsupported result type.`` (recorded for Items).
* An evaluation error fails with ``... threw an error during evaluation. <code>: <message>``.
* AWS's own functions: ``$partition``, ``$range`` (inclusive; a one-element range is the bare number,
  as recorded), ``$hash``, ``$random`` (optional seed), ``$uuid`` and ``$parse``; ``$eval`` is disabled.
  Non-integer arguments are truncated towards zero, like the intrinsics.
* A variable (or ``$states`` member) holding JSON null is null, not undefined (recorded for Items).

Thread safety: jsonata-python keeps per-evaluation state (the current input, environment and
``$now()`` timestamp) on the ``Jsonata`` object and reads it back through a thread-local "current
instance" slot. Evaluating one object from several threads at once is therefore not safe. Each
compiled expression keeps one shallow copy per thread (the parsed syntax tree is shared and only read)
and makes it the thread's current instance before evaluating, so one :class:`CompiledTemplate` can be
evaluated concurrently from any number of threads without locking.
"""

from __future__ import annotations

import copy
import json
import math
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonata import jexception, parser, utils
from jsonata.jsonata import Jsonata

from orchestrator.asl.intrinsics import HASH_ALGORITHMS

__all__ = [
    "CompiledTemplate",
    "JsonataError",
    "JsonataSyntaxError",
    "QUERY_EVALUATION_ERROR",
    "compile_jsonata_template",
    "evaluate_template",
    "is_jsonata_expression",
]

QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
_EXPRESSION_START = "{%"
_EXPRESSION_END = "%}"
# JavaScript prints integral numbers below this in full, so AWS's output shows 7 rather than 7.0.
_LARGEST_PLAIN_INTEGER = 1e21


class JsonataError(Exception):
    """A JSONata field failed at run time.

    ``error`` and ``cause`` are what AWS reports, except that the interpreter still has to put
    "An error occurred while executing the state '<name>' (entered at the event id #<n>). " in front of
    ``cause``. ``expression`` and ``field`` say which expression failed where, for the interpreter's
    EvaluationFailed history event (``location``).
    """

    def __init__(self, error: str, cause: str, *, expression: str = "", field: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.expression = expression
        self.field = field


class JsonataSyntaxError(ValueError):
    """An expression does not parse; raised when the template is compiled (definition load time)."""

    def __init__(self, message: str, *, expression: str, field: str) -> None:
        super().__init__(message)
        self.expression = expression
        self.field = field


def is_jsonata_expression(value: Any) -> bool:
    """True for a string of the form ``{% ... %}`` (no blanks allowed outside the delimiters)."""
    return (
        isinstance(value, str)
        and len(value) >= len(_EXPRESSION_START) + len(_EXPRESSION_END)
        and value.startswith(_EXPRESSION_START)
        and value.endswith(_EXPRESSION_END)
    )


_Bindings = Mapping[str, Any]
_Evaluator = Callable[[_Bindings], Any]


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A field value with its JSONata expressions compiled; evaluate it with :func:`evaluate_template`."""

    field: str
    has_expressions: bool
    _evaluate: _Evaluator = field(repr=False, compare=False)


def compile_jsonata_template(value: Any, field: str = "") -> CompiledTemplate:
    """Compile a field value once. ``field`` (e.g. ``"Output"``, ``"Assign"``) names it in error causes.

    Raises :class:`JsonataSyntaxError` when an expression does not parse.
    """
    evaluator, has_expressions = _compile_value(value, field)
    return CompiledTemplate(field=field, has_expressions=has_expressions, _evaluate=evaluator)


def evaluate_template(compiled: CompiledTemplate, states: dict, variables: Mapping[str, Any]) -> Any:
    """Evaluate a compiled template with ``$states`` bound to ``states`` and each variable as ``$name``.

    Raises :class:`JsonataError` (``States.QueryEvaluationError``) as AWS does.
    """
    if not compiled.has_expressions:
        return compiled._evaluate({})
    bindings: dict[str, Any] = {
        name: utils.Utils.NULL_VALUE if value is None else value for name, value in variables.items()
    }
    bindings["states"] = states
    return compiled._evaluate(bindings)


# --------------------------------------------------------------------------------------------------
# Template compilation
# --------------------------------------------------------------------------------------------------


def _compile_value(value: Any, location: str) -> tuple[_Evaluator, bool]:
    if is_jsonata_expression(value):
        return _compile_expression(value, location), True
    if isinstance(value, dict):
        compiled_members = [(key, *_compile_value(item, f"{location}/{key}")) for key, item in value.items()]
        member_evaluators = [(key, evaluator) for key, evaluator, _ in compiled_members]

        def evaluate_object(bindings: _Bindings) -> dict[str, Any]:
            return {key: evaluator(bindings) for key, evaluator in member_evaluators}

        return evaluate_object, any(has for _, _, has in compiled_members)
    if isinstance(value, list):
        compiled_items = [_compile_value(item, f"{location}[{index}]") for index, item in enumerate(value)]
        item_evaluators = [evaluator for evaluator, _ in compiled_items]

        def evaluate_array(bindings: _Bindings) -> list[Any]:
            return [evaluator(bindings) for evaluator in item_evaluators]

        return evaluate_array, any(has for _, has in compiled_items)
    return (lambda _bindings: value), False


def _compile_expression(template_string: str, location: str) -> _Evaluator:
    expression_text = template_string[len(_EXPRESSION_START) : -len(_EXPRESSION_END)].strip()
    try:
        expression = _compiled_expression(expression_text)
    except jexception.JException as error:
        raise JsonataSyntaxError(
            f"The JSONata expression '{expression_text}' specified for the field '{location}' "
            f"is invalid: {_describe_jsonata_exception(error)}",
            expression=expression_text,
            field=location,
        ) from error

    def fail(reason: str) -> JsonataError:
        return JsonataError(
            QUERY_EVALUATION_ERROR,
            f"The JSONata expression '{expression_text}' specified for the field '{location}' {reason}",
            expression=expression_text,
            field=location,
        )

    def evaluate(bindings: _Bindings) -> Any:
        try:
            result = expression.evaluate(bindings)
        except jexception.JException as error:
            raise fail(f"threw an error during evaluation. {_describe_jsonata_exception(error)}") from error
        except _AwsFunctionError as error:
            raise fail(f"threw an error during evaluation. {error}") from error
        except RecursionError as error:
            raise fail("threw an error during evaluation. Stack overflow error") from error
        if result is None:
            raise fail("returned nothing (undefined).")
        try:
            return _to_json(result)
        except _UnsupportedResult as error:
            raise fail("returned an unsupported result type.") from error

    return evaluate


def _describe_jsonata_exception(error: jexception.JException) -> str:
    if error.error == "T0410" and error.current is not None:
        # The Java-derived message reads "of Object range ... Object signature"; AWS names the function.
        return f'T0410: Argument {error.current} of function "{error.expected}" does not match function signature'
    return f"{error.error}: {error}"


_COMPILED_EXPRESSIONS: dict[str, _SharedExpression] = {}
_COMPILE_LOCK = threading.Lock()


def _compiled_expression(expression_text: str) -> _SharedExpression:
    # jsonata-python parsing is the slow part, and the same expression text recurs across states and
    # state machines, so parsed expressions are shared process-wide.
    cached = _COMPILED_EXPRESSIONS.get(expression_text)
    if cached is not None:
        return cached
    with _COMPILE_LOCK:
        cached = _COMPILED_EXPRESSIONS.get(expression_text)
        if cached is None:
            cached = _SharedExpression(expression_text)
            _COMPILED_EXPRESSIONS[expression_text] = cached
        return cached


class _SharedExpression:
    """One parsed expression, evaluated through a per-thread shallow copy (see the module docstring)."""

    __slots__ = ("_per_thread", "_prototype")

    def __init__(self, expression_text: str) -> None:
        prototype = Jsonata(expression_text)
        if prototype.errors:
            raise prototype.errors[0]
        # Undefined (None) and JSON null (NULL_VALUE) must stay distinguishable: AWS fails on undefined.
        prototype.set_output_convert_nulls(False)
        prototype.set_validate_input(False)
        prototype.environment = _AWS_FUNCTIONS_FRAME
        self._prototype = prototype
        self._per_thread = threading.local()

    def evaluate(self, bindings: _Bindings) -> Any:
        instance = getattr(self._per_thread, "instance", None)
        if instance is None:
            instance = copy.copy(self._prototype)
            self._per_thread.instance = instance
        Jsonata.CURRENT.jsonata = instance
        return instance.evaluate(None, bindings)


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


class _UnsupportedResult(Exception):
    """The expression produced something JSON cannot hold (a function)."""


def _to_json(value: Any) -> Any:
    """Turn a jsonata-python result into plain JSON values (fresh containers, never the library's)."""
    if value is None or value is utils.Utils.NULL_VALUE:
        return None
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _json_number(value)
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items() if item is not utils.Utils.NONE}
    if isinstance(value, utils.Utils.RangeList):
        return [value[index] for index in range(len(value))]
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    if isinstance(value, Jsonata.JFunctionCallable | parser.Parser.Symbol) or callable(value):
        raise _UnsupportedResult
    return value


def _json_number(value: float) -> Any:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < _LARGEST_PLAIN_INTEGER:
        return int(value)
    return value


# --------------------------------------------------------------------------------------------------
# AWS's JSONata functions
# --------------------------------------------------------------------------------------------------


class _AwsFunctionError(Exception):
    """An AWS-provided function rejected its arguments."""


class _AwsFunction(Jsonata.JFunctionCallable):
    def __init__(self, implementation: Callable[..., Any]) -> None:
        self._implementation = implementation

    def call(self, input: Any, args: Any) -> Any:  # noqa: A002 - the library's parameter name
        return self._implementation(*(args or ()))


def _is_undefined(*values: Any) -> bool:
    return any(value is None for value in values)


def _truncate(value: Any) -> int:
    return int(value)


def _partition(array: Any, chunk_size: Any) -> Any:
    if _is_undefined(array, chunk_size):
        return None
    size = _truncate(chunk_size)
    if size <= 0 or not array:
        return None
    items = list(array)
    return [items[start : start + size] for start in range(0, len(items), size)]


def _range(start: Any, end: Any, step: Any = None) -> Any:
    if _is_undefined(start, end, step):
        return None
    first, last, increment = _truncate(start), _truncate(end), _truncate(step)
    if increment == 0 or (increment > 0 and first > last) or (increment < 0 and first < last):
        return None
    count = (last - first) // increment + 1
    # A JSONata sequence, so that a one-element range collapses to the bare number as AWS's does.
    return utils.Utils.create_sequence_from_iter(range(first, first + count * increment, increment))


def _hash(data: Any, algorithm: Any = None) -> Any:
    if _is_undefined(data, algorithm):
        return None
    if algorithm not in HASH_ALGORITHMS:
        raise _AwsFunctionError(
            f"Invalid algorithm '{algorithm}' for function $hash. "
            f"Supported algorithms: {', '.join(HASH_ALGORITHMS)}"
        )
    text = data if isinstance(data, str) else json.dumps(_to_json(data), separators=(",", ":"))
    return HASH_ALGORITHMS[algorithm](text.encode("utf-8")).hexdigest()


def _random(seed: Any = None) -> float:
    if seed is None:
        return random.random()
    return random.Random(_truncate(seed)).random()


def _uuid() -> str:
    return str(uuid.uuid4())


def _reject_non_finite_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _parse(text: Any) -> Any:
    if text is None:
        return None
    try:
        parsed = json.loads(text, parse_constant=_reject_non_finite_constant)
    except ValueError as error:
        raise _AwsFunctionError(
            f"Unable to parse the JSON string passed to function $parse: {error}"
        ) from error
    return utils.Utils.NULL_VALUE if parsed is None else parsed


def _build_aws_functions_frame() -> Jsonata.Frame:
    frame = Jsonata.Frame(Jsonata.static_frame)
    signatures = {
        "partition": ("<an:a>", _partition),
        "range": ("<nnn?:a<n>>", _range),
        "hash": ("<xs?:s>", _hash),
        "random": ("<n?:n>", _random),
        "uuid": ("<:s>", _uuid),
        "parse": ("<s:x>", _parse),
    }
    for name, (signature, implementation) in signatures.items():
        frame.bind(name, Jsonata.JFunction(_AwsFunction(implementation), signature))
    # AWS disables $eval ($parse replaces it); calling it is "Attempted to invoke a non-function".
    frame.bind("eval", None)
    return frame


_AWS_FUNCTIONS_FRAME = _build_aws_functions_frame()
