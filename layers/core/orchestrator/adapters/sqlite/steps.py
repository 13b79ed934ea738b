"""Step executions and execution logs in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence

from orchestrator.adapters.sqlite.database import Database
from orchestrator.adapters.sqlite.sql import decode_rows, returning_one
from orchestrator.adapters.store_support.codec import Layout, encode_record
from orchestrator.adapters.store_support.records import (
    STEP_DERIVED_FIELDS,
    STEP_IDENTITY,
    numbered_log_entries,
    with_log_counts,
)
from orchestrator.domain.records import LogEntry, LogLine, StepExecutionRecord, StepStatus
from orchestrator.ports.store import DuplicateRecord, RecordNotFound


def _with_log_counts(
    connection: sqlite3.Connection, rows: Sequence[sqlite3.Row]
) -> list[StepExecutionRecord]:
    steps = decode_rows(StepExecutionRecord, rows)
    execution_ids = {step.execution_id for step in steps}
    counts: dict[tuple[str, str], int] = {}
    for execution_id in execution_ids:
        for step_id, count in connection.execute(
            """SELECT step_id, count(*) FROM logs WHERE execution_id = ? AND step_id IS NOT NULL
               GROUP BY step_id""",
            (execution_id,),
        ):
            counts[(execution_id, step_id)] = count
    return with_log_counts(steps, counts)


class SqliteStepsAndLogs:
    _db: Database

    def upsert_step_execution(self, step: StepExecutionRecord) -> StepExecutionRecord:
        row = encode_record(step, Layout.ROWS, exclude=STEP_DERIVED_FIELDS)
        columns = ", ".join(row)
        replaced = ", ".join(f"{column} = excluded.{column}" for column in row if column not in STEP_IDENTITY)
        with self._db.write() as connection:
            if (
                connection.execute("SELECT 1 FROM executions WHERE id = ?", (step.execution_id,)).fetchone()
                is None
            ):
                raise RecordNotFound("execution", step.execution_id)
            try:
                stored = returning_one(
                    connection,
                    f"""INSERT INTO step_executions ({columns}) VALUES ({", ".join("?" for _ in row)})
                        ON CONFLICT (execution_id, step_id) DO UPDATE SET {replaced} RETURNING *""",
                    tuple(row.values()),
                )
            except sqlite3.IntegrityError as error:  # the id belongs to another step's record
                raise DuplicateRecord("step execution", step.id) from error
            return _with_log_counts(connection, [stored] if stored else [])[0]

    def get_step_execution(self, step_execution_id: str) -> StepExecutionRecord | None:
        with self._db.read() as connection:
            row = connection.execute(
                "SELECT * FROM step_executions WHERE id = ?", (step_execution_id,)
            ).fetchone()
            return _with_log_counts(connection, [row])[0] if row is not None else None

    def list_step_executions(self, execution_id: str, *, statuses: Collection[StepStatus] | None = None
                             ) -> list[StepExecutionRecord]:
        wanted = "" if statuses is None else f" AND status IN ({', '.join('?' * len(statuses))})"
        with self._db.read() as connection:
            rows = connection.execute(
                f"SELECT * FROM step_executions WHERE execution_id = ?{wanted} ORDER BY started_at, step_id",
                (execution_id, *(status.value for status in statuses or ())),
            ).fetchall()
            return _with_log_counts(connection, rows)

    def append_logs(self, execution_id: str, lines: Sequence[LogLine]) -> list[LogEntry]:
        with self._db.write() as connection:
            # The execution row keeps the last seq: reserving numbers is one update under the write lock.
            row = returning_one(
                connection,
                "UPDATE executions SET log_seq = log_seq + ? WHERE id = ? RETURNING log_seq",
                (len(lines), execution_id),
            )
            if row is None:
                raise RecordNotFound("execution", execution_id)
            entries = numbered_log_entries(execution_id, lines, int(row["log_seq"]))
            connection.executemany(
                """INSERT INTO logs (execution_id, seq, step_id, ts, level, message)
                   VALUES (:execution_id, :seq, :step_id, :ts, :level, :message)""",
                [entry.model_dump(mode="json") for entry in entries],
            )
        return entries

    def list_logs(
        self, execution_id: str, *, step_id: str | None = None, after_seq: int = 0, limit: int = 1000
    ) -> list[LogEntry]:
        step_clause = "AND step_id = ?" if step_id is not None else ""
        step_params = (step_id,) if step_id is not None else ()
        rows = self._db.fetch_all(
            f"SELECT * FROM logs WHERE execution_id = ? {step_clause} AND seq > ? ORDER BY seq LIMIT ?",
            (execution_id, *step_params, after_seq, limit),
        )
        return decode_rows(LogEntry, rows)
