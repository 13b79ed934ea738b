"""Owners' sealed secrets in MongoDB: ciphertext only, one document per (owner, name)."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.database import Database

from orchestrator.domain.records import utcnow
from orchestrator.ports.secrets import SecretInfo

COLLECTION = "owner_secrets"


def _info(document: dict) -> SecretInfo:
    return SecretInfo(name=document["name"], created_at=document["created_at"], updated_at=document["updated_at"])


class MongoSecretRows:
    def __init__(self, database: Database) -> None:
        self._collection = database.get_collection(COLLECTION)
        self._ready = False

    def _ensure_index(self) -> None:
        if not self._ready:
            self._collection.create_indexes([IndexModel([("owner_id", ASCENDING), ("name", ASCENDING)], unique=True)])
            self._ready = True

    def put_sealed(self, owner_id: str, name: str, sealed: bytes) -> SecretInfo:
        self._ensure_index()
        now = utcnow()
        document = self._collection.find_one_and_update(
            {"owner_id": owner_id, "name": name},
            {"$set": {"sealed": sealed, "updated_at": now}, "$setOnInsert": {"created_at": now}},
            upsert=True, return_document=ReturnDocument.AFTER, projection={"_id": 0, "sealed": 0},
        )
        return _info(document)

    def get_sealed(self, owner_id: str, name: str) -> bytes | None:
        self._ensure_index()
        document = self._collection.find_one({"owner_id": owner_id, "name": name}, {"_id": 0, "sealed": 1})
        return None if document is None else bytes(document["sealed"])

    def list_sealed(self, owner_id: str) -> list[SecretInfo]:
        self._ensure_index()
        documents = self._collection.find({"owner_id": owner_id}, {"_id": 0, "sealed": 0}).sort("name", ASCENDING)
        return [_info(document) for document in documents]

    def delete_sealed(self, owner_id: str, name: str) -> bool:
        self._ensure_index()
        return bool(self._collection.delete_one({"owner_id": owner_id, "name": name}).deleted_count)
