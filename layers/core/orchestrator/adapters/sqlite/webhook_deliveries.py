"""Accepted webhook deliveries in SQLite (``ports/webhook_deliveries.py``): one row per live key.

The table is created here on first use (own_tables.py): nothing else reads or joins it. A
claim is one write transaction (``BEGIN IMMEDIATE``): purge what expired, then insert unless the key is
there; processes sharing the file see one winner.
"""

from __future__ import annotations

from datetime import datetime

from orchestrator.adapters.sqlite.database import Database
from orchestrator.adapters.sqlite.own_tables import OwnTables
from orchestrator.domain.records import format_timestamp, utcnow
from orchestrator.ports.webhook_deliveries import WebhookDelivery

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS webhook_deliveries (
        key TEXT PRIMARY KEY,
        expires_at TEXT NOT NULL,
        execution_id TEXT
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_expiry ON webhook_deliveries (expires_at)",
)


class SqliteWebhookDeliveries:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._tables = OwnTables(db, _SCHEMA)

    def claim(self, key: str, expires_at: datetime, *, now: datetime | None = None) -> WebhookDelivery | None:
        self._tables.ensure()
        current = format_timestamp(now or utcnow())
        with self._db.write() as connection:
            connection.execute("DELETE FROM webhook_deliveries WHERE expires_at <= ?", (current,))
            inserted = connection.execute(
                "INSERT INTO webhook_deliveries (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, format_timestamp(expires_at)),
            )
            if inserted.rowcount:
                return None
            row = connection.execute(
                "SELECT key, expires_at, execution_id FROM webhook_deliveries WHERE key = ?", (key,)
            ).fetchone()
        return WebhookDelivery(row["key"], datetime.fromisoformat(row["expires_at"]), row["execution_id"])

    def complete(self, key: str, execution_id: str) -> None:
        self._tables.ensure()
        with self._db.write() as connection:
            connection.execute("UPDATE webhook_deliveries SET execution_id = ? WHERE key = ?", (execution_id, key))

    def release(self, key: str) -> None:
        self._tables.ensure()
        with self._db.write() as connection:
            connection.execute("DELETE FROM webhook_deliveries WHERE key = ?", (key,))
