"""Records to storage values and back, for the two storage layouts.

Payloads (definitions, configs, inputs, outputs, checkpoint records) are stored as JSON text on every
backend. They are user data: MongoDB would refuse or mangle some of it as documents (keys starting with
``$``, integers beyond 64 bits), and nothing ever queries inside a payload, so text is both safe and
enough. Everything the stores filter or sort on stays a native column or field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, TypeAdapter

RecordT = TypeVar("RecordT", bound=BaseModel)

PAYLOAD_FIELDS: frozenset[str] = frozenset({"definition", "config", "input", "output"})
#: list-valued fields: JSON text in SQL rows, native arrays in documents (so they can be indexed)
LIST_FIELDS: frozenset[str] = frozenset({"tags"})


class Layout(Enum):
    #: SQLite: timestamps as fixed-width ISO text, lists as JSON text
    ROWS = "json"
    #: MongoDB: native datetimes and arrays
    DOCUMENTS = "python"


def dump_json(value: Any) -> str:
    # allow_nan=False: NaN and Infinity are not JSON; refusing them here keeps stored text readable by any
    # JSON parser (the API's, the UI's).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def load_json(text: str | bytes) -> Any:
    return json.loads(text)


def _encode_values(values: Mapping[str, Any], layout: Layout) -> dict[str, Any]:
    encoded: dict[str, Any] = {}
    for name, value in values.items():
        if name in PAYLOAD_FIELDS:
            encoded[name] = None if value is None else dump_json(value)
        elif name in LIST_FIELDS and layout is Layout.ROWS:
            encoded[name] = dump_json(value)
        else:
            encoded[name] = value
    return encoded


def encode_record(
    record: BaseModel, layout: Layout, *, exclude: frozenset[str] = frozenset()
) -> dict[str, Any]:
    return _encode_values(record.model_dump(mode=layout.value, exclude=set(exclude) or None), layout)


def decode_record(model: type[RecordT], stored: Mapping[str, Any]) -> RecordT:
    """Build a record from a row or document; storage-only keys (``_id``, counters) are left out."""
    values: dict[str, Any] = {}
    for name in model.model_fields:
        if name not in stored:
            continue
        value = stored[name]
        if value is not None and (name in PAYLOAD_FIELDS or (name in LIST_FIELDS and isinstance(value, str))):
            value = load_json(value)
        values[name] = value
    return model.model_validate(values)


@cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    annotation: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(annotation)


def encode_changes(
    model: type[BaseModel], changes: Mapping[str, Any], allowed: frozenset[str], layout: Layout
) -> dict[str, Any]:
    """Validate partial changes against the record's field types and encode them for storage.

    Raises ValueError naming fields that may not be changed this way, and pydantic's ValidationError for
    bad values: either way before anything is written.
    """
    forbidden = sorted(set(changes) - allowed)
    if forbidden:
        raise ValueError(f"cannot change {', '.join(forbidden)}; changeable: {', '.join(sorted(allowed))}")
    dumped = {
        name: _field_adapter(model, name).dump_python(
            _field_adapter(model, name).validate_python(value), mode=layout.value
        )
        for name, value in changes.items()
    }
    return _encode_values(dumped, layout)
