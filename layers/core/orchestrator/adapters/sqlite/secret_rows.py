"""Owners' sealed secrets in SQLite: ciphertext only (``adapters.local.secret_cipher`` seals them).

The table is created on first use (own_tables.py) rather than by a numbered migration: the rows are opaque to
the rest of the store, and nothing else reads or joins them.
"""

from __future__ import annotations

from datetime import datetime

from orchestrator.adapters.sqlite.database import Database
from orchestrator.adapters.sqlite.own_tables import OwnTables
from orchestrator.domain.records import format_timestamp, utcnow
from orchestrator.ports.secrets import SecretInfo

_SCHEMA = """CREATE TABLE IF NOT EXISTS owner_secrets (
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (owner_id, name)
) WITHOUT ROWID"""


def _info(row: object) -> SecretInfo:
    return SecretInfo(name=row["name"], created_at=datetime.fromisoformat(row["created_at"]),  # type: ignore[index]
                      updated_at=datetime.fromisoformat(row["updated_at"]))  # type: ignore[index]


class SqliteSecretRows:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._tables = OwnTables(db, (_SCHEMA,))

    def put_sealed(self, owner_id: str, name: str, sealed: bytes) -> SecretInfo:
        self._tables.ensure()
        now = format_timestamp(utcnow())
        with self._db.write() as connection:
            row = connection.execute(
                """INSERT INTO owner_secrets (owner_id, name, sealed, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (owner_id, name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at
                   RETURNING name, created_at, updated_at""",
                (owner_id, name, sealed, now, now),
            ).fetchone()
        return _info(row)

    def get_sealed(self, owner_id: str, name: str) -> bytes | None:
        self._tables.ensure()
        row = self._db.fetch_one("SELECT sealed FROM owner_secrets WHERE owner_id = ? AND name = ?", (owner_id, name))
        return None if row is None else bytes(row["sealed"])

    def list_sealed(self, owner_id: str) -> list[SecretInfo]:
        self._tables.ensure()
        rows = self._db.fetch_all(
            "SELECT name, created_at, updated_at FROM owner_secrets WHERE owner_id = ? ORDER BY name", (owner_id,))
        return [_info(row) for row in rows]

    def delete_sealed(self, owner_id: str, name: str) -> bool:
        self._tables.ensure()
        with self._db.write() as connection:
            deleted = connection.execute("DELETE FROM owner_secrets WHERE owner_id = ? AND name = ?", (owner_id, name))
            return bool(deleted.rowcount)
