"""MongoDB operations of the ``database`` step (pymongo): find, insert, update, delete, aggregate.

Filters, updates, pipelines and documents may use MongoDB Extended JSON (``{"$oid": "..."}``,
``{"$date": "..."}``) since workflow files are YAML/JSON; outputs turn ObjectIds into their hex text and
datetimes into ISO 8601 text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.steps.base import StepError
from orchestrator.steps.json_safe import json_safe


def from_extended_json(value: Any) -> Any:
    """``value`` with Extended JSON wrappers ($oid, $date, $numberLong, ...) turned into BSON types."""
    from bson import json_util

    if isinstance(value, Mapping):
        return json_util.object_hook({k: from_extended_json(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return [from_extended_json(v) for v in value]
    return value


def _sort_spec(sort: Any) -> list[tuple[str, int]] | None:
    if sort is None:
        return None
    if isinstance(sort, Mapping):
        items = list(sort.items())
    elif isinstance(sort, list | tuple) and all(isinstance(s, list | tuple) and len(s) == 2 for s in sort):
        items = [(s[0], s[1]) for s in sort]
    else:
        raise StepError("Database.InvalidRequest", "sort is {field: 1|-1} or [[field, 1|-1], ...]", retryable=False)
    for field, direction in items:
        if direction not in (1, -1):
            raise StepError("Database.InvalidRequest", f"sort direction of {field!r} must be 1 or -1",
                            retryable=False)
    return [(str(f), int(d)) for f, d in items]


class MongoSession:
    def __init__(self, collection: Any, timeout: float) -> None:
        self.collection = collection
        self.timeout = timeout

    def _with_timeout(self) -> Any:
        import pymongo

        # client-side operation timeout (CSOT): bounds server selection, network and server time
        return pymongo.timeout(self.timeout)

    def find(self, filter_: Mapping[str, Any], projection: Any, sort: Any, limit: int) -> dict[str, Any]:
        with self._with_timeout():
            cursor = self.collection.find(from_extended_json(filter_), projection)
            spec = _sort_spec(sort)
            if spec:
                cursor = cursor.sort(spec)
            documents = list(cursor.limit(limit))
        return {"documents": json_safe(documents), "count": len(documents)}

    def insert(self, documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        docs = [from_extended_json(d) for d in documents]
        with self._with_timeout():
            if len(docs) == 1:
                ids = [self.collection.insert_one(docs[0]).inserted_id]
            else:
                ids = list(self.collection.insert_many(docs).inserted_ids)
        return {"inserted_ids": json_safe(ids), "inserted": len(ids)}

    def update(self, filter_: Mapping[str, Any], update: Any, many: bool, upsert: bool) -> dict[str, Any]:
        with self._with_timeout():
            method = self.collection.update_many if many else self.collection.update_one
            result = method(from_extended_json(filter_), from_extended_json(update), upsert=upsert)
        return {"matched": result.matched_count, "modified": result.modified_count,
                "upserted_id": json_safe(result.upserted_id)}

    def delete(self, filter_: Mapping[str, Any], many: bool) -> dict[str, Any]:
        with self._with_timeout():
            method = self.collection.delete_many if many else self.collection.delete_one
            result = method(from_extended_json(filter_))
        return {"deleted": result.deleted_count}

    def aggregate(self, pipeline: Sequence[Mapping[str, Any]], limit: int) -> dict[str, Any]:
        with self._with_timeout():
            documents = []
            for document in self.collection.aggregate(from_extended_json(list(pipeline))):
                if len(documents) == limit:
                    break
                documents.append(document)
        return {"documents": json_safe(documents), "count": len(documents)}


def classify(exc: BaseException) -> StepError | None:
    """A pymongo error as a StepError (network trouble and timeouts are retryable), or None."""
    try:
        from bson.errors import BSONError
        from pymongo import errors
    except ImportError:
        return None
    if isinstance(exc, BSONError):  # a value BSON cannot encode, a malformed ObjectId: the request is wrong
        return StepError("Database.InvalidRequest", f"{type(exc).__name__}: {exc}", retryable=False)
    if not isinstance(exc, errors.PyMongoError):
        return None
    message = str(exc)
    if isinstance(exc, errors.DuplicateKeyError) or (
        isinstance(exc, errors.BulkWriteError)
        and any(e.get("code") == 11000 for e in exc.details.get("writeErrors", []))
    ):
        return StepError("Database.Constraint", message, retryable=False)
    if getattr(exc, "timeout", False):  # ExecutionTimeout, NetworkTimeout, ServerSelectionTimeout, CSOT
        return StepError("Database.Timeout", message, retryable=True)
    if isinstance(exc, errors.ConnectionFailure):
        return StepError("Database.Connection", message, retryable=True)
    if exc.has_error_label("RetryableWriteError") or exc.has_error_label("TransientTransactionError"):
        return StepError("Database.Conflict", message, retryable=True)
    if isinstance(exc, errors.OperationFailure):
        return StepError("Database.OperationFailed", message, retryable=False)
    return StepError("Database.InvalidRequest", f"{type(exc).__name__}: {message}", retryable=False)
