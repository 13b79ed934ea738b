"""Accepted webhook deliveries in MongoDB (``ports/webhook_deliveries.py``): one document per live key.

The unique index on ``key`` makes a claim atomic: the second insert of a key gets DuplicateKeyError. A
TTL index lets the server drop expired documents itself; claims also purge them as they go (the TTL
monitor runs once a minute, and mongomock has none).
"""

from __future__ import annotations

from datetime import datetime

from pymongo import IndexModel
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from orchestrator.adapters.mongo.own_collection import OwnCollection
from orchestrator.domain.records import as_timestamp, utcnow
from orchestrator.ports.webhook_deliveries import WebhookDelivery

COLLECTION = "webhook_deliveries"


class MongoWebhookDeliveries:
    def __init__(self, database: Database) -> None:
        self._own = OwnCollection(database, COLLECTION, [IndexModel("key", unique=True),
                                                         IndexModel("expires_at", expireAfterSeconds=0)])

    def claim(self, key: str, expires_at: datetime, *, now: datetime | None = None) -> WebhookDelivery | None:
        collection = self._own.get()
        current = as_timestamp(now or utcnow())
        collection.delete_many({"expires_at": {"$lte": current}})
        try:
            collection.insert_one({"key": key, "expires_at": as_timestamp(expires_at), "execution_id": None})
        except DuplicateKeyError:
            document = collection.find_one({"key": key}, {"_id": 0})
            if document is None:  # released or purged in between: try once more
                return self.claim(key, expires_at, now=now)
            return WebhookDelivery(document["key"], document["expires_at"], document.get("execution_id"))
        return None

    def complete(self, key: str, execution_id: str) -> None:
        self._own.get().update_one({"key": key}, {"$set": {"execution_id": execution_id}})

    def release(self, key: str) -> None:
        self._own.get().delete_one({"key": key})
