"""Reading the CLI's --input and --var values: JSON text, or @file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


def parse_json_argument(value: str | None, *, option: str) -> Any:
    """``{"a": 1}`` or ``@input.json``; a bad value names the option, the file and the position."""
    if value is None:
        return {}
    source = option
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint=option) from None
        source = str(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                                 param_hint=option) from None


def parse_variables(pairs: list[str]) -> dict[str, Any]:
    """``--var name=value``: the value is JSON when it parses as JSON, otherwise the text itself."""
    variables: dict[str, Any] = {}
    for pair in pairs:
        name, separator, raw = pair.partition("=")
        if not separator or not name:
            raise typer.BadParameter(f"expected name=value, got {pair!r}", param_hint="--var")
        try:
            variables[name] = json.loads(raw)
        except json.JSONDecodeError:
            variables[name] = raw
    return variables
