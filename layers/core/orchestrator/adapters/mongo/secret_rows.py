"""Owners' sealed secrets in MongoDB: ciphertext only, one document per (owner, name)."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.database import Database

from orchestrator.adapters.mongo.own_collection import OwnCollection
from orchestrator.domain.records import utcnow
from orchestrator.ports.secrets import SecretInfo

COLLECTION = "owner_secrets"


def _info(document: dict) -> SecretInfo:
    return SecretInfo(name=document["name"], created_at=document["created_at"], updated_at=document["updated_at"])


class MongoSecretRows:
    def __init__(self, database: Database) -> None:
        self._own = OwnCollection(database, COLLECTION,
                                  [IndexModel([("owner_id", ASCENDING), ("name", ASCENDING)], unique=True)])

    def put_sealed(self, owner_id: str, name: str, sealed: bytes) -> SecretInfo:
        now = utcnow()
        document = self._own.get().find_one_and_update(
            {"owner_id": owner_id, "name": name},
            {"$set": {"sealed": sealed, "updated_at": now}, "$setOnInsert": {"created_at": now}},
            upsert=True, return_document=ReturnDocument.AFTER, projection={"_id": 0, "sealed": 0},
        )
        return _info(document)

    def get_sealed(self, owner_id: str, name: str) -> bytes | None:
        document = self._own.get().find_one({"owner_id": owner_id, "name": name}, {"_id": 0, "sealed": 1})
        return None if document is None else bytes(document["sealed"])

    def list_sealed(self, owner_id: str) -> list[SecretInfo]:
        documents = self._own.get().find({"owner_id": owner_id}, {"_id": 0, "sealed": 0}).sort("name", ASCENDING)
        return [_info(document) for document in documents]

    def delete_sealed(self, owner_id: str, name: str) -> bool:
        return bool(self._own.get().delete_one({"owner_id": owner_id, "name": name}).deleted_count)
