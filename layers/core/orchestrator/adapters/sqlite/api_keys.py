"""API keys in SQLite: hashes only."""

from __future__ import annotations

import sqlite3

from orchestrator.adapters.sqlite.database import Database
from orchestrator.adapters.sqlite.sql import decode_row, decode_rows, insert_row
from orchestrator.adapters.store_support.codec import Layout, encode_record
from orchestrator.domain.records import ApiKeyRecord
from orchestrator.ports.store import DuplicateRecord


class SqliteApiKeys:
    _db: Database

    def create_api_key(self, key: ApiKeyRecord) -> ApiKeyRecord:
        with self._db.write() as connection:
            try:
                insert_row(connection, "api_keys", encode_record(key, Layout.ROWS))
            except sqlite3.IntegrityError as error:  # the id or the hash is taken
                raise DuplicateRecord("api key", key.id) from error
        return key

    def find_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        row = self._db.fetch_one("SELECT * FROM api_keys WHERE key_hash = ? AND revoked = 0", (key_hash,))
        return decode_row(ApiKeyRecord, row)

    def list_api_keys(self, owner_id: str) -> list[ApiKeyRecord]:
        rows = self._db.fetch_all(
            "SELECT * FROM api_keys WHERE owner_id = ? ORDER BY created_at, id", (owner_id,)
        )
        return decode_rows(ApiKeyRecord, rows)

    def revoke_api_key(self, key_id: str) -> bool:
        with self._db.write() as connection:
            return bool(
                connection.execute("UPDATE api_keys SET revoked = 1 WHERE id = ?", (key_id,)).rowcount
            )
