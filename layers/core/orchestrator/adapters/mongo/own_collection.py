"""A collection an adapter indexes itself on first use (one that ``Collections.ensure_indexes`` does not
know: sealed secrets, webhook deliveries)."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import IndexModel
from pymongo.collection import Collection
from pymongo.database import Database


class OwnCollection:
    def __init__(self, database: Database, name: str, indexes: Sequence[IndexModel]) -> None:
        self._collection = database.get_collection(name)
        self._indexes = list(indexes)
        self._ready = False

    def get(self) -> Collection:
        """The collection, its indexes created (once per process; create_indexes is idempotent)."""
        if not self._ready:
            self._collection.create_indexes(self._indexes)
            self._ready = True
        return self._collection
