"""API keys in MongoDB: hashes only."""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from orchestrator.adapters.mongo.collections import NO_MONGO_ID, Collections
from orchestrator.adapters.mongo.documents import decode_document, decode_documents
from orchestrator.adapters.store_support.codec import Layout, encode_record
from orchestrator.domain.records import ApiKeyRecord
from orchestrator.ports.store import DuplicateRecord


class MongoApiKeys:
    _collections: Collections

    def create_api_key(self, key: ApiKeyRecord) -> ApiKeyRecord:
        try:
            self._collections.api_keys.insert_one(encode_record(key, Layout.DOCUMENTS))
        except DuplicateKeyError as error:  # the id or the hash is taken
            raise DuplicateRecord("api key", key.id) from error
        return key

    def find_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        document = self._collections.api_keys.find_one({"key_hash": key_hash, "revoked": False}, NO_MONGO_ID)
        return decode_document(ApiKeyRecord, document)

    def list_api_keys(self, owner_id: str) -> list[ApiKeyRecord]:
        documents = self._collections.api_keys.find({"owner_id": owner_id}, NO_MONGO_ID).sort(
            [("created_at", 1), ("id", 1)]
        )
        return decode_documents(ApiKeyRecord, documents)

    def revoke_api_key(self, key_id: str) -> bool:
        return bool(
            self._collections.api_keys.update_one({"id": key_id}, {"$set": {"revoked": True}}).matched_count
        )
