"""The safe expression language of ``when`` and ``condition`` steps.

Python expression syntax, evaluated by simpleeval (no imports, no statements, no dunder access):
``steps.check.output.count > 10 and input.mode == 'full'``. Names are the roots of the scope
(variables, input, steps, execution, loop) plus a few pure functions. Attribute access on an object is
key access (``input.mode`` is ``input["mode"]``), so dict methods are never reachable; text has a few
read-only methods (``input.name.lower()``). A value that is exactly one ``{{...}}`` template is
accepted too and means "is this value truthy".

Bounds keep a hostile or careless expression cheap: the text length, the syntax tree size, exponents,
string and comprehension sizes.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from simpleeval import (
    DEFAULT_OPERATORS,
    DISALLOW_FUNCTIONS,
    EvalWithCompoundTypes,
    InvalidExpression,
    NameNotDefined,
    NumberTooHigh,
)

from orchestrator.domain.templates import (
    SCOPE_ROOTS,
    SECRETS_ROOT,
    Reference,
    TemplateError,
    kind_of,
    render,
    whole_reference,
)

#: names an expression of a step may start with: the same scope templates read
EXPRESSION_ROOTS = SCOPE_ROOTS
#: YAML and JSON authors write true / false / null; Python's True / False / None work too
JSON_CONSTANTS = {"true": True, "false": False, "null": None}

FUNCTIONS: dict[str, Any] = {
    "len": len, "int": int, "float": float, "str": str, "bool": bool, "abs": abs, "min": min, "max": max,
    "any": any, "all": all, "sum": sum, "round": round, "list": list, "tuple": tuple, "set": set, "dict": dict,
}  # fmt: skip
#: read-only text methods; everything else on a value is key access
STRING_METHODS = frozenset(
    {"lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "isdigit", "title"}
)
#: strings that mean false when a whole-template expression yields text (query strings, env vars)
FALSE_WORDS = frozenset({"", "false", "no", "off", "0", "null", "none"})

MAX_EXPRESSION_LENGTH = 4000
MAX_SYNTAX_NODES = 1000
MAX_NESTING = 60  # evaluation recurses per level; this keeps it far from Python's recursion limit
MAX_RESULT_BITS = 4096  # ~1233 decimal digits: any honest comparison fits

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call, ast.keyword,
    ast.Attribute, ast.Subscript, ast.Slice, ast.Name, ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set,
    ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.comprehension, ast.Load, ast.Store,
    ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift,
    ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.Not, ast.USub, ast.UAdd, ast.Invert,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
)  # fmt: skip
_CONSTANT_TYPES = (str, int, float, bool, type(None))
#: words for the syntax users most often try, for the "not allowed" message
_FORBIDDEN_NAMES: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda", ast.JoinedStr: "an f-string", ast.NamedExpr: "assignment (:=)", ast.Starred: "* unpacking",
    ast.SetComp: "a set comprehension", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.MatMult: "the @ operator",
}  # fmt: skip


class ExpressionError(ValueError):
    """An expression that cannot be evaluated against a scope (a missing key, a type mismatch)."""


class ExpressionSyntaxError(ExpressionError):
    """An expression that is not accepted at all; ``column`` (1-based) points at the offending part."""

    def __init__(self, text: str, message: str, column: int | None = None, line: int | None = None) -> None:
        where = ""
        if column:
            where = f" at line {line}, column {column}" if line and line > 1 else f" at column {column}"
        super().__init__(f"invalid expression {text!r}: {message}{where}")
        self.text = text
        self.column = column
        self.line = line


def truthy(value: Any) -> bool:
    """Python truthiness, except that text such as "false", "no", "0" is false."""
    if isinstance(value, str):
        return value.strip().lower() not in FALSE_WORDS
    return bool(value)


@dataclass(frozen=True, eq=False)
class Expression:
    text: str
    _tree: ast.expr | None
    _template: Reference | None
    _references: tuple[Reference, ...]

    def references(self) -> list[Reference]:
        """The scope paths the expression reads (``steps.check.output.count`` as root + path)."""
        return list(self._references)

    def names(self) -> list[str]:
        """The scope paths the expression reads, as text: ``["steps.check.output.count", "input.mode"]``."""
        return [reference.dotted for reference in self._references]

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        """The expression's value; a whole-template expression yields its truthiness (a bool)."""
        if self._template is not None:
            try:
                return truthy(render(self._template.text, scope).value)
            except TemplateError as error:
                raise ExpressionError(str(error)) from None
        assert self._tree is not None
        evaluator = _SafeEvaluator(scope)
        try:
            return evaluator.eval(self.text, previously_parsed=self._tree)
        except ExpressionError:
            raise
        except NameNotDefined as error:
            raise ExpressionError(
                f"cannot evaluate {self.text!r}: '{error.name}' is not available here"
            ) from None
        except (
            InvalidExpression,
            ArithmeticError,
            TypeError,
            ValueError,
            LookupError,
            RecursionError,
        ) as error:
            raise ExpressionError(f"cannot evaluate {self.text!r}: {error}") from None

    def is_true(self, scope: Mapping[str, Any]) -> bool:
        """Whether a ``when`` holds: ``truthy(evaluate(scope))``."""
        return truthy(self.evaluate(scope))

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def compile_expression(text: str, *, roots: Iterable[str] = EXPRESSION_ROOTS) -> Expression:
    """Parse and check an expression once; ExpressionSyntaxError names the problem and its column."""
    return _compile(text, frozenset(roots))


@lru_cache(maxsize=4096)
def _compile(text: str, roots: frozenset[str]) -> Expression:
    if not isinstance(text, str):
        raise ExpressionSyntaxError(str(text), "an expression must be text")
    # YAML block scalars keep line breaks; an expression is one logical line, so they are plain spaces
    source = " ".join(text.strip().splitlines())
    if not source:
        raise ExpressionSyntaxError(text, "it is empty")
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExpressionSyntaxError(text[:40] + "...", f"longer than {MAX_EXPRESSION_LENGTH} characters")
    if "{{" in source:
        return _compile_template(source, roots)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        line = error.lineno or 1
        # CPython reports offset 0 when the text ends too early ("a >"): point just past the end
        column = error.offset or len(source.splitlines()[line - 1]) + 1
        raise ExpressionSyntaxError(source, error.msg, column, line) from None
    except (RecursionError, MemoryError):
        raise ExpressionSyntaxError(source, "nested too deeply") from None
    checker = _Checker(source, roots)
    checker.check(tree)
    return Expression(source, tree.body, None, tuple(checker.references))


def _compile_template(source: str, roots: frozenset[str]) -> Expression:
    try:
        reference = whole_reference(source)
    except TemplateError as error:
        raise ExpressionSyntaxError(source, str(error)) from None
    if reference is None:
        raise ExpressionSyntaxError(
            source,
            "a template must be the whole expression; inside an expression write the path bare "
            "(input.mode == 'full', not {{input.mode}} == 'full')",
        )
    if reference.root == SECRETS_ROOT:
        raise ExpressionSyntaxError(source, "secrets cannot be used in expressions")
    if reference.root not in roots:
        raise ExpressionSyntaxError(source, _unknown_name_message(reference.root, roots))
    return Expression(source, None, reference, (reference,))


def _unknown_name_message(name: str, roots: frozenset[str]) -> str:
    known = ", ".join(sorted(roots))
    return f"unknown name '{name}' (names are {known}; functions are {', '.join(FUNCTIONS)})"


class _Checker(ast.NodeVisitor):
    """Rejects what the language does not have, and collects the scope paths an expression reads."""

    def __init__(self, text: str, roots: frozenset[str]) -> None:
        self.text = text
        self.roots = roots
        self.found: list[tuple[int, int, Reference]] = []  # (line, column, reference), sorted when done
        self.references: list[Reference] = []
        self.local_names: set[str] = set()  # comprehension variables
        self.node_count = 0

    def fail(self, node: ast.AST, message: str, *, column: int | None = None) -> None:
        if column is None:
            column = getattr(node, "col_offset", -1) + 1 or None
        raise ExpressionSyntaxError(self.text, message, column, getattr(node, "lineno", None))

    def check(self, tree: ast.Expression) -> None:
        pending: list[tuple[ast.AST, int]] = [(tree, 0)]
        while pending:
            node, depth = pending.pop()
            self.node_count += 1
            if self.node_count > MAX_SYNTAX_NODES:
                raise ExpressionSyntaxError(self.text, f"more than {MAX_SYNTAX_NODES} syntax elements")
            if depth > MAX_NESTING:
                self.fail(node, f"nested too deeply (more than {MAX_NESTING} levels)")
            pending.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
            if not isinstance(node, _ALLOWED_NODES):
                kind = _FORBIDDEN_NAMES.get(type(node), type(node).__name__)
                self.fail(node, f"{kind} is not allowed in expressions")
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                self.fail(
                    node,
                    f"'{node.attr}': names starting with '_' are not allowed",
                    column=(node.end_col_offset or 0) - len(node.attr) + 1,
                )
            if isinstance(node, ast.Constant) and not isinstance(node.value, _CONSTANT_TYPES):
                self.fail(node, f"{type(node.value).__name__} literals are not allowed")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id not in FUNCTIONS
            ):
                self.fail(node, f"unknown function '{node.func.id}' (functions are {', '.join(FUNCTIONS)})")
            if isinstance(node, ast.comprehension):
                self.local_names.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
        self.visit(tree)
        self.references = [reference for _, _, reference in sorted(self.found, key=lambda item: item[:2])]

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._chain(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self._chain(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id not in JSON_CONSTANTS:
            self._chain(node)

    def visit_Call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):  # a function name is not a scope path
            self.visit(node.func)
        for argument in (*node.args, *node.keywords):
            self.visit(argument)

    def _chain(self, node: ast.expr) -> None:
        """Record the longest static path of ``a.b['c'][0]``; dynamic indexes are checked on their own."""
        segments: list[str | int] = []
        current: ast.expr = node
        while True:
            if isinstance(current, ast.Attribute):
                segments.append(current.attr)
                current = current.value
            elif isinstance(current, ast.Subscript):
                key = current.slice
                if (
                    isinstance(key, ast.Constant)
                    and isinstance(key.value, str | int)
                    and not isinstance(key.value, bool)
                ):
                    segments.append(key.value)
                else:
                    segments.clear()  # what follows a computed index is not a known path
                    self.visit(key)
                current = current.value
            else:
                break
        if not isinstance(current, ast.Name):
            self.visit(current)
            return
        name = current.id
        if name in self.local_names or (name in FUNCTIONS and not segments):
            return
        if name not in self.roots:
            self.fail(current, _unknown_name_message(name, self.roots))
        path = tuple(reversed(segments))
        text = ast.get_source_segment(self.text, node) or name
        self.found.append((current.lineno, current.col_offset, Reference(name, path, text)))


def _bounded_power(base: Any, exponent: Any) -> Any:
    if isinstance(base, int | float) and isinstance(exponent, int | float) and abs(base) > 1 and exponent > 0:
        bits = abs(int(base)).bit_length() if isinstance(base, int) else 1
        if exponent * max(bits, 1) > MAX_RESULT_BITS:
            raise NumberTooHigh(f"{base} ** {exponent} is too large")
    return base**exponent


_OPERATORS = {**DEFAULT_OPERATORS, ast.Pow: _bounded_power}


class _SafeEvaluator(EvalWithCompoundTypes):
    """simpleeval with key-only attribute access, clear missing-key errors and no deep item scans."""

    def __init__(self, scope: Mapping[str, Any]) -> None:
        super().__init__(operators=_OPERATORS, functions=dict(FUNCTIONS), names={**JSON_CONSTANTS, **scope})

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):  # also checked at compile time; kept for trees built elsewhere
            raise ExpressionError(f"cannot evaluate {self.expr!r}: '{node.attr}' is not allowed")
        value = self._eval(node.value)
        if isinstance(value, Mapping):
            try:
                return value[node.attr]
            except KeyError:
                raise ExpressionError(
                    f"cannot evaluate {self.expr!r}: {ast.unparse(node.value)} has no key '{node.attr}'"
                ) from None
        if isinstance(value, str) and node.attr in STRING_METHODS:
            return getattr(value, node.attr)
        raise ExpressionError(
            f"cannot evaluate {self.expr!r}: {ast.unparse(node.value)} is {kind_of(value)}; it has no '{node.attr}'"
        )

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        container = self._eval(node.value)
        key = self._eval(node.slice)
        try:
            return container[key]
        except (KeyError, IndexError, TypeError):
            raise ExpressionError(
                f"cannot evaluate {self.expr!r}: {ast.unparse(node.value)} has no item {key!r}"
            ) from None

    def _check_disallowed_items(self, item: Any) -> None:
        # Scope values are JSON data and functions are the ones listed above, so the library's recursive
        # scan of every container (at every node, over possibly large step outputs) buys nothing here.
        if isinstance(item, types.ModuleType):
            raise ExpressionError(f"cannot evaluate {self.expr!r}: modules are not allowed")
        if callable(item) and not isinstance(item, Mapping):
            try:
                forbidden = item in DISALLOW_FUNCTIONS
            except TypeError:  # unhashable callables cannot be among them
                forbidden = False
            if forbidden:
                raise ExpressionError(f"cannot evaluate {self.expr!r}: this function is not allowed")
