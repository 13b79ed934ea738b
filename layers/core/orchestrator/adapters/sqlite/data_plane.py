"""The interpreter's checkpoints, step results and blobs, in the same SQLite database as the records."""

from __future__ import annotations

from typing import Any

from orchestrator.adapters.sqlite.database import Database
from orchestrator.adapters.sqlite.sql import returning_one
from orchestrator.adapters.store_support.blob_refs import blob_key, blob_ref
from orchestrator.adapters.store_support.codec import dump_json, load_json
from orchestrator.domain.records import format_timestamp, utcnow


class SqliteCheckpointStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _append(self, execution_id: str, records: list[dict[str, Any]], *, finished: bool) -> None:
        encoded = [dump_json(record) for record in records]  # before the transaction: bad data writes nothing
        with self._db.write() as connection:
            row = returning_one(
                connection,
                """INSERT INTO checkpoint_runs (execution_id, last_seq, finished, created_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (execution_id) DO UPDATE SET
                       last_seq = last_seq + excluded.last_seq, finished = max(finished, excluded.finished)
                   RETURNING last_seq""",
                (execution_id, len(encoded), int(finished), format_timestamp(utcnow())),
            )
            first_seq = int(row["last_seq"]) - len(encoded) + 1 if row else 1
            connection.executemany(
                "INSERT INTO checkpoint_records (execution_id, seq, record) VALUES (?, ?, ?)",
                [(execution_id, first_seq + offset, text) for offset, text in enumerate(encoded)],
            )

    def append(self, execution_id: str, records: list[dict[str, Any]]) -> None:
        self._append(execution_id, records, finished=False)

    def load(self, execution_id: str) -> list[dict[str, Any]]:
        rows = self._db.fetch_all(
            "SELECT record FROM checkpoint_records WHERE execution_id = ? ORDER BY seq", (execution_id,)
        )
        return [load_json(row["record"]) for row in rows]

    def unfinished(self) -> list[str]:
        rows = self._db.fetch_all(
            "SELECT execution_id FROM checkpoint_runs WHERE finished = 0 ORDER BY created_at, execution_id"
        )
        return [row["execution_id"] for row in rows]

    def finish(self, execution_id: str, record: dict[str, Any]) -> None:
        self._append(execution_id, [record], finished=True)


class SqliteStepResultStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, execution_id: str, step_key: str, record: dict[str, Any]) -> None:
        encoded = dump_json(record)
        with self._db.write() as connection:
            connection.execute(
                """INSERT INTO step_results (execution_id, step_key, record) VALUES (?, ?, ?)
                   ON CONFLICT (execution_id, step_key) DO UPDATE SET record = excluded.record""",
                (execution_id, step_key, encoded),
            )

    def get(self, execution_id: str, step_key: str) -> dict[str, Any] | None:
        row = self._db.fetch_one(
            "SELECT record FROM step_results WHERE execution_id = ? AND step_key = ?",
            (execution_id, step_key),
        )
        return None if row is None else load_json(row["record"])

    def all(self, execution_id: str) -> dict[str, dict[str, Any]]:
        rows = self._db.fetch_all(
            "SELECT step_key, record FROM step_results WHERE execution_id = ? ORDER BY step_key",
            (execution_id,),
        )
        return {row["step_key"]: load_json(row["record"]) for row in rows}


class SqliteBlobs:
    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, key: str, data: bytes) -> str:
        ref = blob_ref(key)
        with self._db.write() as connection:
            connection.execute(
                """INSERT INTO blobs (key, data, created_at) VALUES (?, ?, ?)
                   ON CONFLICT (key) DO UPDATE SET data = excluded.data""",
                (key, bytes(data), format_timestamp(utcnow())),
            )
        return ref

    def get(self, ref: str) -> bytes:
        row = self._db.fetch_one("SELECT data FROM blobs WHERE key = ?", (blob_key(ref),))
        if row is None:
            raise KeyError(ref)
        return bytes(row["data"])
