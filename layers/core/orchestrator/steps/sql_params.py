"""Bound parameters in SQL text: find ``:name`` and ``?`` placeholders, and rewrite them for psycopg.

Workflows write one portable style (SQLite's): ``:name`` or ``?``. SQLite binds them natively; psycopg
wants ``%(name)s`` / ``%s`` and a literal ``%`` doubled. The scanner skips string literals, quoted
identifiers, dollar-quoted bodies, comments and PostgreSQL's ``::`` casts, so a colon or a question mark
inside those is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass(frozen=True)
class Placeholders:
    names: tuple[str, ...]  # named placeholders, in order of first use
    positional: int  # how many ``?``

    @property
    def style(self) -> str:
        return "named" if self.names else "positional" if self.positional else "none"


class SqlParamError(ValueError):
    pass


def _skip_quoted(sql: str, i: int) -> int:
    """Index just past the literal/identifier/comment starting at ``sql[i]``, or ``i`` if none starts there."""
    ch = sql[i]
    if ch in "'\"":
        j = i + 1
        while j < len(sql):
            if sql[j] == ch:
                if j + 1 < len(sql) and sql[j + 1] == ch:  # '' or "" escapes the quote
                    j += 2
                    continue
                return j + 1
            if sql[j] == "\\" and ch == "'" and i > 0 and sql[i - 1] in "eE":  # E'..\'..' escapes
                j += 2
                continue
            j += 1
        raise SqlParamError(f"unterminated {ch} quote starting at character {i}")
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end + 1
    if sql.startswith("/*", i):
        end = sql.find("*/", i + 2)
        if end < 0:
            raise SqlParamError(f"unterminated /* comment starting at character {i}")
        return end + 2
    if ch == "$":
        tag = _DOLLAR_TAG.match(sql, i)
        if tag and not (i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            end = sql.find(tag.group(), tag.end())
            if end < 0:
                raise SqlParamError(f"unterminated {tag.group()} body starting at character {i}")
            return end + len(tag.group())
    return i


def _scan(sql: str, on_placeholder: Callable[[str | None], None], on_text: Callable[[str], None]) -> None:
    i = 0
    while i < len(sql):
        skipped = _skip_quoted(sql, i)
        if skipped != i:
            on_text(sql[i:skipped])
            i = skipped
            continue
        ch = sql[i]
        if ch == ":" and sql.startswith("::", i):  # a cast, not a parameter
            on_text("::")
            i += 2
            continue
        if ch == ":" and (name := _NAME.match(sql, i + 1)):
            on_placeholder(name.group())
            i = name.end()
            continue
        if ch == "?":
            on_placeholder(None)
            i += 1
            continue
        on_text(ch)
        i += 1


def placeholders(sql: str) -> Placeholders:
    names: list[str] = []
    positional = 0

    def found(name: str | None) -> None:
        nonlocal positional
        if name is None:
            positional += 1
        elif name not in names:
            names.append(name)

    _scan(sql, found, lambda _text: None)
    if names and positional:
        raise SqlParamError("the SQL mixes :name and ? placeholders; use one style")
    return Placeholders(tuple(names), positional)


def to_psycopg(sql: str) -> str:
    """``sql`` with ``:name`` -> ``%(name)s``, ``?`` -> ``%s`` and literal ``%`` -> ``%%``."""
    out: list[str] = []

    def placeholder(name: str | None) -> None:
        out.append("%s" if name is None else f"%({name})s")

    _scan(sql, placeholder, lambda text: out.append(text.replace("%", "%%")))
    return "".join(out)
