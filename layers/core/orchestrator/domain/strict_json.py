"""JSON as the orchestrator accepts it from outside: finite numbers, real Unicode text, bounded nesting.

Python's ``json`` reads more than JSON: ``NaN``, ``Infinity`` and ``1e999`` (infinite floats), and
``"\\udc00"`` (a lone UTF-16 surrogate, which no UTF-8 encoder can write back). Those values get past a
parser and break later, far from the request, when a store or a response encodes them. Its parser also
recurses in C: ``[[[[...`` ten thousand deep raises RecursionError. ``strict_loads`` refuses all three with a
located ``UnsafeJson``:

- nesting: checked *before* parsing, by one scan of the brackets outside strings (no recursion, linear time);
- non-finite numbers and lone surrogates: found after parsing, by an iterative walk that names where they are
  (``body.input.x: NaN is not valid JSON``).

Malformed JSON raises ``json.JSONDecodeError`` as ``json.loads`` does (callers that accept text too, such as
webhooks, tell the two apart). ``DEFAULT_MAX_DEPTH`` is ``Settings.max_json_depth``'s default.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from orchestrator.domain.problems import format_location

DEFAULT_MAX_DEPTH = 64

# a JSON string, possibly unterminated (then it runs to the end: no quadratic rescans); possessive
_STRING = re.compile(r'"(?:[^"\\]++|\\[\s\S]?)*+"?')
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_TOKEN = re.compile(r'"(?:[^"\\]++|\\[\s\S]?)*+"?|[\[\]{}]')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_DELTA = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_MAX_SEGMENT = 40


class UnsafeJson(ValueError):
    """Syntactically JSON, but not accepted: too deep, a non-finite number, a lone surrogate.

    ``location``: where (``body.input.x``); ``position``: the byte offset, for nesting."""

    def __init__(self, location: str, problem: str, *, position: int | None = None) -> None:
        self.location = location
        self.problem = problem
        self.position = position
        super().__init__(f"{location}: {problem}")


class _NonFinite:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _SurrogateKey:
    __slots__ = ()


def nesting_position(text: str, max_depth: int) -> int | None:
    """The character offset at which ``text``'s brackets (outside strings) open level ``max_depth + 1``,
    or None when they never do. Unclosed brackets count: a parser recurses on them before it fails."""
    if text.count("[") + text.count("{") <= max_depth:
        return None  # cannot be deeper: the common case, at C speed
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if max(accumulate(map(_DELTA.__getitem__, map(ord, brackets))), default=0) <= max_depth:
        return None
    depth = 0  # refused: find where, token by token
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return match.start()
        elif token in "]}":
            depth -= 1
    return None  # not reached: the scan above found the same brackets


def strict_loads(data: str | bytes, *, max_depth: int = DEFAULT_MAX_DEPTH, where: str = "body") -> Any:
    """``json.loads`` refusing what the module doc lists; ``where`` names the document in messages.
    Bytes must be UTF-8 (UnicodeDecodeError, a ValueError, otherwise)."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    text = text.removeprefix("\ufeff")
    position = nesting_position(text, max_depth)
    if position is not None:
        offset = len(text[:position].encode("utf-8", "surrogatepass"))
        raise UnsafeJson(where, f"nesting deeper than {max_depth} at byte {offset}", position=offset)
    seen: list[_NonFinite] = []

    def non_finite(literal: str) -> _NonFinite:
        seen.append(_NonFinite(literal))
        return seen[-1]

    def number(literal: str) -> float | _NonFinite:
        value = float(literal)
        return value if math.isfinite(value) else non_finite(literal)

    value = json.loads(text, parse_constant=non_finite, parse_float=number)
    if not seen and not _SURROGATE_ESCAPE.search(text) and not has_lone_surrogate(text):
        return value  # nothing to find: skip the walk
    problem = first_unsafe_value(value)
    if problem is not None:
        path, message = problem
        raise UnsafeJson(_join(where, path), message)
    return value


def first_unsafe_value(value: Any) -> tuple[str, str] | None:
    """``(path, problem)`` of the first non-finite number or lone surrogate in parsed JSON (or in any
    structure of dicts, lists and scalars), None when there is none. Iterative: any depth is fine."""
    for path, item in _walk(value):
        if isinstance(item, _NonFinite):
            return path, f"{item.text} is not valid JSON (numbers must be finite)"
        if isinstance(item, float) and not math.isfinite(item):
            return path, f"{item} is not a finite number (JSON has no NaN or Infinity)"
        if isinstance(item, _SurrogateKey):
            return path, "a key holds a lone UTF-16 surrogate (\\ud800-\\udfff alone is not text)"
        if isinstance(item, str) and has_lone_surrogate(item):
            return path, "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff alone is not text)"
    return None


def has_lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                if isinstance(key, str) and has_lone_surrogate(key):
                    yield format_location(_printable((*path, key))), _SurrogateKey()
                pending.append(((*path, key), child))
        elif isinstance(item, list | tuple):
            pending.extend(((*path, index), child) for index, child in reversed(list(enumerate(item))))
        else:
            yield format_location(_printable(path)), item


def _printable(path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Keys as a message may show them: no lone surrogates, at most ``_MAX_SEGMENT`` characters."""
    shown: list[str | int] = []
    for segment in path:
        if isinstance(segment, str):
            segment = segment.encode("utf-8", "backslashreplace").decode("utf-8")
            if len(segment) > _MAX_SEGMENT:
                segment = segment[:_MAX_SEGMENT] + "..."
        shown.append(segment)
    return tuple(shown)


def _join(parent: str, child: str) -> str:
    if not parent or not child:
        return parent or child
    return f"{parent}{child}" if child.startswith("[") else f"{parent}.{child}"
