"""JSON value helpers shared by the interpreter: compact serialisation, size quota, type names.

Values that flow between states are plain JSON types (dict, list, str, int, float, bool, None) and are
immutable by convention: no state mutates a value it received; every transformation builds a new value
(copying only along the path it changes). That is why nothing here deep-copies.
"""

from __future__ import annotations

import json
from typing import Any

# The inputDetails/outputDetails of every history event. One shared object, because history events
# are read-only like every other value here (and thousands of identical dicts only feed the GC).
NOT_TRUNCATED = {"truncated": False}

# Step Functions' payload quota: 256 KiB of UTF-8 JSON per state input/output, result and variable.
MAX_PAYLOAD_BYTES = 256 * 1024

_compact_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def to_json(value: Any) -> str:
    """Compact JSON text, as Step Functions writes it in history events and causes."""
    return _compact_encoder.encode(value)


def utf8_size(text: str) -> int:
    # ASCII-only text (the common case) has as many bytes as characters: skip the encode.
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8"))


def exceeds_payload_quota(json_text: str) -> bool:
    # The quota is inclusive of its limit in Step Functions: 262144 bytes exactly is already too large.
    return utf8_size(json_text) >= MAX_PAYLOAD_BYTES


def json_type_name(value: Any) -> str:
    """The JSON type name of a value as AWS writes it in messages ('object', 'array', 'number', ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integral(value: Any) -> bool:
    """True for JSON numbers without a fractional part (1 and 1.0, but not 1.5 or True)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def roundtrip(value: Any) -> tuple[Any, str]:
    """A fresh, JSON-only copy of a value plus its JSON text.

    Used at the Lambda boundary: Lambda serialises the event and the result, so a handler never shares
    objects with the interpreter (a handler that mutates its event must not change the state's input).
    Raises TypeError/ValueError if the value is not JSON.
    """
    text = to_json(value)
    return json.loads(text), text
