"""The MongoDB collections of the store and their indexes.

Every list filter and sort has an index; ids and natural keys have unique indexes, which are also what
makes concurrent inserts and upserts safe (the loser gets DuplicateKeyError, never a twin record).
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.database import Database

#: finds leave MongoDB's own _id out: records have their own ids. (Not passed to find_one_and_update:
#: mongomock then loses the updated document; decoding ignores _id anyway.)
NO_MONGO_ID = {"_id": False}

_PAGE = [("created_at", DESCENDING), ("id", DESCENDING)]

_INDEXES: dict[str, list[IndexModel]] = {
    "workflows": [
        IndexModel("id", unique=True),
        IndexModel(_PAGE),
        IndexModel([("owner_id", ASCENDING), *_PAGE]),
        IndexModel([("status", ASCENDING), *_PAGE]),
        IndexModel([("tags", ASCENDING), *_PAGE]),
    ],
    "workflow_versions": [IndexModel([("workflow_id", ASCENDING), ("version", ASCENDING)], unique=True)],
    "triggers": [
        IndexModel("id", unique=True),
        IndexModel([("workflow_id", ASCENDING), ("created_at", ASCENDING), ("id", ASCENDING)]),
        IndexModel([("type", ASCENDING), ("is_enabled", ASCENDING), ("next_fire_at", ASCENDING)]),
    ],
    "executions": [
        IndexModel("id", unique=True),
        IndexModel(_PAGE),
        IndexModel([("workflow_id", ASCENDING), *_PAGE]),
        IndexModel([("status", ASCENDING), *_PAGE]),
        IndexModel([("owner_id", ASCENDING), *_PAGE]),
        IndexModel([("owner_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)]),
        # the outbox claim: queued, highest priority, oldest
        IndexModel(
            [("status", ASCENDING), ("priority", DESCENDING), ("created_at", ASCENDING), ("id", ASCENDING)]
        ),
        IndexModel([("status", ASCENDING), ("enqueued_at", ASCENDING)]),
        IndexModel([("workflow_id", ASCENDING), ("duration", ASCENDING)]),
        # workflow summaries (counts by status) and the per-workflow concurrency limit
        IndexModel([("workflow_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)]),
    ],
    "step_executions": [
        IndexModel("id", unique=True),
        IndexModel([("execution_id", ASCENDING), ("step_id", ASCENDING)], unique=True),
        IndexModel([("workflow_id", ASCENDING), ("status", ASCENDING), ("step_id", ASCENDING)]),
    ],
    "logs": [
        IndexModel([("execution_id", ASCENDING), ("seq", ASCENDING)], unique=True),
        IndexModel([("execution_id", ASCENDING), ("step_id", ASCENDING), ("seq", ASCENDING)]),
    ],
    "api_keys": [
        IndexModel("id", unique=True),
        IndexModel("key_hash", unique=True),
        IndexModel([("owner_id", ASCENDING), ("created_at", ASCENDING), ("id", ASCENDING)]),
    ],
    "checkpoint_runs": [
        IndexModel("execution_id", unique=True),
        IndexModel([("finished", ASCENDING), ("created_at", ASCENDING), ("execution_id", ASCENDING)]),
    ],
    "checkpoint_records": [IndexModel([("execution_id", ASCENDING), ("seq", ASCENDING)], unique=True)],
    "step_results": [IndexModel([("execution_id", ASCENDING), ("step_key", ASCENDING)], unique=True)],
    "blobs": [IndexModel("key", unique=True)],
    "blob_chunks": [IndexModel([("key", ASCENDING), ("version", ASCENDING), ("n", ASCENDING)], unique=True)],
}


@dataclass(frozen=True)
class Collections:
    workflows: Collection
    workflow_versions: Collection
    triggers: Collection
    executions: Collection
    step_executions: Collection
    logs: Collection
    api_keys: Collection
    checkpoint_runs: Collection
    checkpoint_records: Collection
    step_results: Collection
    blobs: Collection
    blob_chunks: Collection

    @classmethod
    def of(cls, database: Database) -> Collections:
        return cls(**{name: database.get_collection(name) for name in _INDEXES})

    def ensure_indexes(self) -> None:
        """Create missing indexes (idempotent; run at start-up, before serving)."""
        for name, indexes in _INDEXES.items():
            getattr(self, name).create_indexes(indexes)
