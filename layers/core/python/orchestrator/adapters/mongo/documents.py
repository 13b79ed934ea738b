"""Reading records out of MongoDB documents, and the page filter shared by the list queries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from orchestrator.adapters.store_support.codec import decode_record
from orchestrator.adapters.store_support.paging import decode_cursor
from orchestrator.ports.store import RecordNotFound

RecordT = TypeVar("RecordT", bound=BaseModel)

NEWEST_FIRST = [("created_at", -1), ("id", -1)]


def decode_documents(model: type[RecordT], documents: Iterable[Mapping[str, Any]]) -> list[RecordT]:
    return [decode_record(model, document) for document in documents]


def decode_document(model: type[RecordT], document: Mapping[str, Any] | None) -> RecordT | None:
    return None if document is None else decode_record(model, document)


def decode_found(model: type[RecordT], document: Mapping[str, Any] | None, kind: str, key: str) -> RecordT:
    if document is None:
        raise RecordNotFound(kind, key)
    return decode_record(model, document)


def page_filter(query: dict[str, Any], cursor: str | None) -> dict[str, Any]:
    """``query`` restricted to records after the cursor in newest-first ``(created_at, id)`` order."""
    if cursor is None:
        return query
    created_at, record_id = decode_cursor(cursor)
    after = {
        "$or": [{"created_at": {"$lt": created_at}}, {"created_at": created_at, "id": {"$lt": record_id}}]
    }
    return {"$and": [query, after]} if query else after
