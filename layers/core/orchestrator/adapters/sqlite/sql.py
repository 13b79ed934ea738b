"""Small SQL builders over encoded records (column names come from our own models, never from callers)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from orchestrator.adapters.store_support.codec import Layout, decode_record, encode_record
from orchestrator.adapters.store_support.paging import decode_cursor
from orchestrator.domain.records import ExecutionRecord, TriggerRecord, format_timestamp
from orchestrator.ports.store import DuplicateRecord, RecordNotFound

RecordT = TypeVar("RecordT", bound=BaseModel)


def insert_row(connection: sqlite3.Connection, table: str, values: Mapping[str, Any]) -> None:
    columns = ", ".join(values)
    placeholders = ", ".join("?" for _ in values)
    connection.execute(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", tuple(values.values()))


def insert_for_live_workflow(
    connection: sqlite3.Connection, table: str, kind: str, record: ExecutionRecord | TriggerRecord
) -> dict[str, Any]:
    """Insert a record of a workflow that exists and is not deleted (RecordNotFound for the workflow
    otherwise); DuplicateRecord (``kind``) when the record's id is taken. Returns the row as stored."""
    workflow = connection.execute(
        "SELECT 1 FROM workflows WHERE id = ? AND deleted_at IS NULL", (record.workflow_id,)
    ).fetchone()
    if workflow is None:
        raise RecordNotFound("workflow", record.workflow_id)
    row = encode_record(record, Layout.ROWS)
    try:
        insert_row(connection, table, row)
    except sqlite3.IntegrityError as error:
        raise DuplicateRecord(kind, record.id) from error
    return row


def set_clause(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{column} = ?" for column in values)


def decode_rows(model: type[RecordT], rows: Sequence[sqlite3.Row]) -> list[RecordT]:
    return [decode_record(model, dict(row)) for row in rows]


def decode_row(model: type[RecordT], row: sqlite3.Row | None) -> RecordT | None:
    return None if row is None else decode_record(model, dict(row))


def placeholders(count: int) -> str:
    return ", ".join("?" for _ in range(count))


class Filters:
    """WHERE clauses and their parameters, gathered as a list request's filters are read."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def add_equal(self, values: Mapping[str, Any]) -> None:
        for column, value in values.items():
            self.add(f"{column} = ?", value)

    def after_cursor(self, cursor: str | None) -> None:
        """Keyset condition for newest-first pages (row values compare column by column)."""
        if cursor is not None:
            created_at, record_id = decode_cursor(cursor)
            self.add("(created_at, id) < (?, ?)", format_timestamp(created_at), record_id)

    def where(self) -> str:
        return f"WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def page_query(table: str, filters: Filters, cursor: str | None, limit: int) -> tuple[str, tuple[Any, ...]]:
    """The statement of one newest-first page of ``table``, and one row more: page_of reads that row as
    "another page follows"."""
    filters.after_cursor(cursor)
    sql = f"SELECT * FROM {table} {filters.where()} ORDER BY created_at DESC, id DESC LIMIT ?"
    return sql, (*filters.params, limit + 1)


def returning_one(connection: sqlite3.Connection, sql: str, params: Sequence[Any]) -> sqlite3.Row | None:
    """Run a statement with RETURNING to completion (fetchall): a half-read statement would block COMMIT."""
    rows = connection.execute(sql, params).fetchall()
    return rows[0] if rows else None


def decode_found(model: type[RecordT], row: sqlite3.Row | None, kind: str, key: str) -> RecordT:
    """The record of a row that must exist; RecordNotFound (``kind``, ``key``) otherwise."""
    if row is None:
        raise RecordNotFound(kind, key)
    return decode_record(model, dict(row))
