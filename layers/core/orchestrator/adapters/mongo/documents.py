"""Reading records out of MongoDB documents, the page query shared by the list queries, and the insert
of a workflow's records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from orchestrator.adapters.mongo.collections import NO_MONGO_ID, Collections
from orchestrator.adapters.store_support.codec import decode_record
from orchestrator.adapters.store_support.paging import decode_cursor
from orchestrator.ports.store import DuplicateRecord, RecordNotFound

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


def find_page(
    collection: Collection, query: dict[str, Any], cursor: str | None, limit: int
) -> list[dict[str, Any]]:
    """One newest-first page of ``query`` after the cursor, and one document more: page_of reads that
    document as "another page follows"."""
    return list(collection.find(page_filter(query, cursor), NO_MONGO_ID).sort(NEWEST_FIRST).limit(limit + 1))


def insert_for_live_workflow(
    collections: Collections, collection: Collection, kind: str, document: dict[str, Any]
) -> None:
    """Insert a record of a workflow that exists and is not deleted (RecordNotFound for the workflow
    otherwise); DuplicateRecord (``kind``) when the record's id is taken."""
    workflow_id = document["workflow_id"]
    if collections.workflows.find_one({"id": workflow_id, "deleted_at": None}, {"_id": 1}) is None:
        raise RecordNotFound("workflow", workflow_id)
    try:
        collection.insert_one(document)
    except DuplicateKeyError as error:
        raise DuplicateRecord(kind, document["id"]) from error
