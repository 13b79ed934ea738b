"""JSONPath as Step Functions evaluates it (Jayway JsonPath semantics), compiled once at load time.

Supported: ``$``, ``.name`` / ``['name']`` (quoted, with the delimiter escaped by a backslash), ``[n]``
(negative counts from the end), ``[*]`` / ``.*``, ``[start:end:step]``, unions ``['a','b']`` / ``[0,2]``,
``..name`` recursive descent, filters ``[?(<expr>)]`` with ``@``/``$`` operands, ``== != < <= > >= =~``,
``&& || !`` and parentheses, and a trailing ``.length()``.

A *definite* path (only names and indexes) selects one value and fails with ``PathNotFound`` when it is
missing; an *indefinite* path (wildcards, slices, unions, filters, descent) selects a list, possibly empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from orchestrator.asl.values import is_number


class PathSyntaxError(ValueError):
    pass


class PathNotFound(LookupError):
    """A definite path selected nothing. ``normalized`` is Jayway's bracket form, e.g. ``$['a'][0]``."""

    def __init__(self, normalized: str) -> None:
        super().__init__(f"No results for path: {normalized}")
        self.normalized = normalized


_MISSING = object()


# ---------------------------------------------------------------------------------------------------------
# Segments


@dataclass(frozen=True, slots=True)
class Child:
    name: str

    def select(self, node: Any) -> Iterator[Any]:
        if isinstance(node, dict) and self.name in node:
            yield node[self.name]

    def render(self) -> str:
        return "['" + self.name + "']"


@dataclass(frozen=True, slots=True)
class Index:
    index: int

    def select(self, node: Any) -> Iterator[Any]:
        if isinstance(node, list) and -len(node) <= self.index < len(node):
            yield node[self.index]

    def render(self) -> str:
        return f"[{self.index}]"


@dataclass(frozen=True, slots=True)
class Wildcard:
    def select(self, node: Any) -> Iterator[Any]:
        if isinstance(node, list):
            yield from node
        elif isinstance(node, dict):
            yield from node.values()

    def render(self) -> str:
        return "[*]"


@dataclass(frozen=True, slots=True)
class Slice:
    start: int | None
    end: int | None
    step: int | None

    def select(self, node: Any) -> Iterator[Any]:
        if isinstance(node, list):
            yield from node[self.start : self.end : self.step]

    def render(self) -> str:
        parts = ["" if v is None else str(v) for v in (self.start, self.end)]
        text = ":".join(parts) + (f":{self.step}" if self.step is not None else "")
        return f"[{text}]"


@dataclass(frozen=True, slots=True)
class Union:
    members: tuple[Child | Index, ...]

    def select(self, node: Any) -> Iterator[Any]:
        for member in self.members:
            yield from member.select(node)

    def render(self) -> str:
        return "[" + ",".join(m.render()[1:-1] for m in self.members) + "]"


@dataclass(frozen=True, slots=True)
class Descendants:
    """``..x``: apply ``inner`` to the node and to every node below it."""

    inner: Child | Wildcard | Index | Slice | Union | Filter

    def select(self, node: Any) -> Iterator[Any]:
        for candidate in _walk(node):
            yield from self.inner.select(candidate)

    def render(self) -> str:
        return ".." + self.inner.render()


@dataclass(frozen=True, slots=True)
class Filter:
    source: str
    predicate: Callable[[Any, Any], bool]

    def select(self, node: Any) -> Iterator[Any]:  # the root is bound by the caller
        raise AssertionError("Filter.select is bound through Filter.select_with_root")

    def select_with_root(self, node: Any, root: Any) -> Iterator[Any]:
        if isinstance(node, list):
            for item in node:
                if self.predicate(item, root):
                    yield item
        elif isinstance(node, dict) and self.predicate(node, root):
            yield node

    def render(self) -> str:
        return f"[?({self.source})]"


@dataclass(frozen=True, slots=True)
class Length:
    """Trailing ``.length()``: the size of the selected array, object or string."""

    def render(self) -> str:
        return ".length()"


Segment = Child | Index | Wildcard | Slice | Union | Descendants | Filter | Length


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


# ---------------------------------------------------------------------------------------------------------
# Compiled path


class JsonPath:
    """A compiled JSONPath rooted at ``$``."""

    __slots__ = ("text", "segments", "definite", "_keys", "_length")

    def __init__(self, text: str, segments: tuple[Segment, ...]) -> None:
        self.text = text
        self.segments = segments
        self._length = bool(segments) and isinstance(segments[-1], Length)
        body = segments[:-1] if self._length else segments
        self.definite = all(isinstance(s, Child | Index) for s in body)
        # Definite paths evaluate through a tuple of plain keys: the hot path of every state.
        self._keys: tuple[str | int, ...] = (
            tuple(s.name if isinstance(s, Child) else s.index for s in body) if self.definite else ()
        )

    @property
    def is_root(self) -> bool:
        return not self.segments

    @property
    def keys(self) -> tuple[str | int, ...]:
        """The member names / indexes of a definite path (used by ResultPath to write)."""
        if not self.definite or self._length:
            raise ValueError(f"{self.text} is not a definite path")
        return self._keys

    def normalized(self) -> str:
        return "$" + "".join(s.render() for s in self.segments)

    def find(self, document: Any) -> Any:
        """The selected value (definite path) or list of values (indefinite path)."""
        if self.definite:
            value = document
            for key in self._keys:
                if type(key) is str:
                    if isinstance(value, dict):
                        value = value.get(key, _MISSING)
                        if value is _MISSING:
                            raise PathNotFound(self.normalized())
                    else:
                        raise PathNotFound(self.normalized())
                elif isinstance(value, list) and -len(value) <= key < len(value):
                    value = value[key]
                else:
                    raise PathNotFound(self.normalized())
            return _length_of(value, self) if self._length else value
        nodes = [document]
        body = self.segments[:-1] if self._length else self.segments
        for segment in body:
            selected: list[Any] = []
            if isinstance(segment, Filter):
                for node in nodes:
                    selected.extend(segment.select_with_root(node, document))
            elif isinstance(segment, Descendants) and isinstance(segment.inner, Filter):
                inner = segment.inner
                for node in nodes:
                    for candidate in _walk(node):
                        selected.extend(inner.select_with_root(candidate, document))
            else:
                for node in nodes:
                    selected.extend(segment.select(node))
            nodes = selected
        if self._length:
            return len(nodes)
        return nodes

    def exists(self, document: Any) -> bool:
        try:
            found = self.find(document)
        except PathNotFound:
            return False
        return self.definite or bool(found)

    def __repr__(self) -> str:
        return f"JsonPath({self.text!r})"


def _length_of(value: Any, path: JsonPath) -> int:
    if isinstance(value, list | dict | str):
        return len(value)
    raise PathNotFound(path.normalized())


_cache: dict[str, JsonPath] = {}


def compile_path(text: str) -> JsonPath:
    """Compile a JSONPath starting with ``$`` (raises PathSyntaxError)."""
    cached = _cache.get(text)
    if cached is not None:
        return cached
    if not isinstance(text, str) or not text.startswith("$"):
        raise PathSyntaxError(f"a JSONPath must start with '$': {text!r}")
    parser = _PathParser(text, 1)
    segments = parser.parse_segments(stop_chars="")
    if parser.pos != len(text):
        raise PathSyntaxError(f"unexpected {text[parser.pos]!r} at position {parser.pos} in {text!r}")
    compiled = JsonPath(text, tuple(segments))
    if len(_cache) < 10_000:
        _cache[text] = compiled
    return compiled


# ---------------------------------------------------------------------------------------------------------
# Parser


class _PathParser:
    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def error(self, message: str) -> PathSyntaxError:
        return PathSyntaxError(f"{message} at position {self.pos} in {self.text!r}")

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def parse_segments(self, stop_chars: str) -> list[Segment]:
        segments: list[Segment] = []
        while self.pos < len(self.text) and self.peek() not in stop_chars:
            char = self.peek()
            if char == "." and self.peek(1) == ".":
                self.pos += 2
                segments.append(Descendants(self.parse_descendant_target()))
            elif char == ".":
                self.pos += 1
                segment = self.parse_dot_member()
                if isinstance(segment, Length):
                    segments.append(segment)
                    if self.pos < len(self.text) and self.peek() not in stop_chars:
                        raise self.error("length() must end the path")
                    return segments
                segments.append(segment)
            elif char == "[":
                segments.append(self.parse_bracket())
            elif char == " " and stop_chars:
                return segments
            else:
                raise self.error(f"unexpected {char!r}")
        return segments

    def parse_descendant_target(self) -> Child | Wildcard | Index | Slice | Union | Filter:
        if self.peek() == "[":
            target = self.parse_bracket()
            if isinstance(target, Descendants | Length):
                raise self.error("invalid recursive descent")
            return target
        if self.peek() == "*":
            self.pos += 1
            return Wildcard()
        name = self.read_dot_name()
        return Child(name)

    def parse_dot_member(self) -> Segment:
        if self.peek() == "*":
            self.pos += 1
            return Wildcard()
        name = self.read_dot_name()
        if name == "length" and self.text.startswith("()", self.pos):
            self.pos += 2
            return Length()
        return Child(name)

    def read_dot_name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ".[()=!<>&| ":
            self.pos += 1
        if self.pos == start:
            raise self.error("empty member name")
        return self.text[start : self.pos]

    def parse_bracket(self) -> Segment:
        self.pos += 1  # '['
        self.skip_spaces()
        char = self.peek()
        if char == "?":
            self.pos += 1
            segment: Segment = self.parse_filter()
        elif char == "*":
            self.pos += 1
            segment = Wildcard()
        elif char in "'\"":
            names = [self.read_quoted()]
            self.skip_spaces()
            while self.peek() == ",":
                self.pos += 1
                self.skip_spaces()
                names.append(self.read_quoted())
                self.skip_spaces()
            segment = Child(names[0]) if len(names) == 1 else Union(tuple(Child(n) for n in names))
        else:
            segment = self.parse_index_expression()
        self.skip_spaces()
        if self.peek() != "]":
            raise self.error("expected ']'")
        self.pos += 1
        return segment

    def parse_index_expression(self) -> Index | Slice | Union:
        end = self.text.find("]", self.pos)
        if end < 0:
            raise self.error("unterminated '['")
        body = self.text[self.pos : end].strip()
        self.pos = end
        try:
            if ":" in body:
                parts = [p.strip() for p in body.split(":")]
                if len(parts) > 3:
                    raise ValueError(body)
                values = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
                return Slice(values[0], values[1], values[2])
            if "," in body:
                return Union(tuple(Index(int(p)) for p in body.split(",")))
            return Index(int(body))
        except ValueError:
            raise self.error(f"invalid index expression [{body}]") from None

    def read_quoted(self) -> str:
        quote = self.peek()
        self.pos += 1
        chars: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("unterminated string")
            char = self.text[self.pos]
            if char == "\\" and self.peek(1) == quote:
                # Only the delimiter is escaped; any other backslash is part of the name.
                chars.append(quote)
                self.pos += 2
                continue
            if char == quote:
                self.pos += 1
                return "".join(chars)
            chars.append(char)
            self.pos += 1

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def parse_filter(self) -> Filter:
        if self.peek() != "(":
            raise self.error("expected '(' after '?'")
        start = self.pos + 1
        close = _matching_paren(self.text, self.pos)
        if close < 0:
            raise self.error("unbalanced '(' in filter")
        source = self.text[start:close]
        predicate = _FilterParser(source, self.text).parse()
        self.pos = close + 1
        return Filter(source.strip(), predicate)


def _matching_paren(text: str, open_index: int) -> int:
    depth = 0
    quote = ""
    index = open_index
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


# ---------------------------------------------------------------------------------------------------------
# Filter expressions

Predicate = Callable[[Any, Any], bool]
Operand = Callable[[Any, Any], Any]  # (current item, root) -> value or _MISSING

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>==|!=|<=|>=|=~|&&|\|\||<|>|!|\(|\))
      | (?P<string>'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")
      | (?P<regex>/(?:\\.|[^/\\])*/[a-z]*)
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<word>true|false|null)\b
      | (?P<path>[@$](?:\.\.?[^\s.\[()=!<>&|]+|\.\*|\[[^\]]*\])*(?:\.length\(\))?)
    )""",
    re.VERBOSE,
)


class _FilterParser:
    def __init__(self, source: str, full_path: str) -> None:
        self.source = source
        self.full_path = full_path
        self.tokens = self._tokenize(source)
        self.index = 0

    def _tokenize(self, source: str) -> list[tuple[str, str]]:
        tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(source):
            if source[pos].isspace():
                pos += 1
                continue
            match = _TOKEN.match(source, pos)
            if match is None or match.end() == pos:
                raise PathSyntaxError(f"invalid filter expression {source!r} in {self.full_path!r}")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind)))
            pos = match.end()
        return tokens

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index] if self.index < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.index += 1
        return token

    def fail(self) -> PathSyntaxError:
        return PathSyntaxError(f"invalid filter expression {self.source!r} in {self.full_path!r}")

    def parse(self) -> Predicate:
        predicate = self.parse_or()
        if self.peek()[0] != "end":
            raise self.fail()
        return predicate

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.parse_and()
            left = _or(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_unary()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.parse_unary()
            left = _and(left, right)
        return left

    def parse_unary(self) -> Predicate:
        if self.peek() == ("op", "!"):
            self.take()
            inner = self.parse_unary()
            return lambda item, root: not inner(item, root)
        if self.peek() == ("op", "("):
            self.take()
            inner = self.parse_or()
            if self.take() != ("op", ")"):
                raise self.fail()
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        left = self.parse_operand()
        kind, value = self.peek()
        if kind == "op" and value in ("==", "!=", "<", "<=", ">", ">=", "=~"):
            self.take()
            if value == "=~":
                regex_kind, regex_text = self.take()
                if regex_kind != "regex":
                    raise self.fail()
                return _regex_match(left, regex_text)
            right = self.parse_operand()
            return _compare(left, value, right)
        # A lone operand tests existence (``[?(@.isbn)]``).
        return lambda item, root: left(item, root) is not _MISSING

    def parse_operand(self) -> Operand:
        kind, text = self.take()
        if kind == "string":
            literal = _unquote(text)
            return lambda item, root: literal
        if kind == "number":
            number: int | float = float(text) if any(c in text for c in ".eE") else int(text)
            return lambda item, root: number
        if kind == "word":
            word = {"true": True, "false": False, "null": None}[text]
            return lambda item, root: word
        if kind == "path":
            relative = compile_path("$" + text[1:])
            from_root = text[0] == "$"

            def operand(item: Any, root: Any) -> Any:
                try:
                    return relative.find(root if from_root else item)
                except PathNotFound:
                    return _MISSING

            return operand
        raise self.fail()


def _unquote(text: str) -> str:
    quote = text[0]
    body = text[1:-1]
    return body.replace("\\" + quote, quote).replace("\\\\", "\\")


def _or(left: Predicate, right: Predicate) -> Predicate:
    return lambda item, root: left(item, root) or right(item, root)


def _and(left: Predicate, right: Predicate) -> Predicate:
    return lambda item, root: left(item, root) and right(item, root)


def _compare(left: Operand, op: str, right: Operand) -> Predicate:
    def predicate(item: Any, root: Any) -> bool:
        a = left(item, root)
        b = right(item, root)
        if a is _MISSING or b is _MISSING:
            return op == "!=" and not (a is _MISSING and b is _MISSING)
        if op in ("==", "!="):
            equal = _json_equal(a, b)
            return equal if op == "==" else not equal
        # Ordering only between two numbers or two strings; anything else is false, as in Jayway.
        if is_number(a) and is_number(b) or isinstance(a, str) and isinstance(b, str):
            if op == "<":
                return a < b
            if op == "<=":
                return a <= b
            if op == ">":
                return a > b
            return a >= b
        return False

    return predicate


def _json_equal(a: Any, b: Any) -> bool:
    if is_number(a) and is_number(b):
        return a == b
    if type(a) is not type(b):
        return False
    return a == b


def _regex_match(left: Operand, regex_text: str) -> Predicate:
    last_slash = regex_text.rfind("/")
    pattern, flags_text = regex_text[1:last_slash], regex_text[last_slash + 1 :]
    flags = re.IGNORECASE if "i" in flags_text else 0
    compiled = re.compile(pattern, flags)

    def predicate(item: Any, root: Any) -> bool:
        value = left(item, root)
        return isinstance(value, str) and compiled.fullmatch(value) is not None

    return predicate
