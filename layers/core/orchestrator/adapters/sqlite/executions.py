"""Executions in SQLite: the outbox claim and the compare-and-set lifecycle transitions."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from orchestrator.adapters.sqlite.database import Database
from orchestrator.adapters.sqlite.sql import (
    Filters,
    decode_found,
    decode_row,
    decode_rows,
    insert_for_live_workflow,
    page_query,
    returning_one,
    set_clause,
)
from orchestrator.adapters.store_support.codec import Layout, decode_record
from orchestrator.adapters.store_support.filters import execution_filters
from orchestrator.adapters.store_support.paging import check_page_size, page_of
from orchestrator.adapters.store_support.rules import expected_statuses, transition_values
from orchestrator.domain.lifecycle import InvalidTransition
from orchestrator.domain.records import ExecutionRecord, ExecutionStatus, format_timestamp, utcnow
from orchestrator.ports.store import DEFAULT_PAGE_SIZE, Page, RecordNotFound


class SqliteExecutions:
    _db: Database

    def create_execution(self, execution: ExecutionRecord) -> ExecutionRecord:
        with self._db.write() as connection:
            row = insert_for_live_workflow(connection, "executions", "execution", execution)
        # the row as stored, decoded as a read would (timestamps at the store's precision)
        return decode_record(ExecutionRecord, row)

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        row = self._db.fetch_one("SELECT * FROM executions WHERE id = ?", (execution_id,))
        return decode_row(ExecutionRecord, row)

    def list_executions(
        self,
        *,
        workflow_id: str | None = None,
        status: ExecutionStatus | str | None = None,
        owner_id: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ExecutionRecord]:
        check_page_size(limit)
        filters = Filters()
        filters.add_equal(execution_filters(workflow_id=workflow_id, status=status, owner_id=owner_id))
        rows = self._db.fetch_all(*page_query("executions", filters, cursor, limit))
        return page_of(decode_rows(ExecutionRecord, rows), limit)

    def transition(
        self,
        execution_id: str,
        expected_from: Collection[ExecutionStatus | str] | ExecutionStatus | str,
        to: ExecutionStatus | str,
        **fields: Any,
    ) -> ExecutionRecord:
        allowed_from = expected_statuses(expected_from, to)
        values = transition_values(to, fields, Layout.ROWS)
        # The write lock is held from the read to the update: nobody can change the status in between.
        with self._db.write() as connection:
            row = connection.execute("SELECT status FROM executions WHERE id = ?", (execution_id,)).fetchone()
            if row is None:
                raise RecordNotFound("execution", execution_id)
            if row["status"] not in allowed_from:
                raise InvalidTransition(row["status"], to)
            updated = returning_one(
                connection,
                f"UPDATE executions SET {set_clause(values)} WHERE id = ? RETURNING *",
                (*values.values(), execution_id),
            )
        return decode_found(ExecutionRecord, updated, "execution", execution_id)

    def claim_next_queued(
        self, worker_id: str, lease_seconds: float, now: datetime | None = None
    ) -> ExecutionRecord | None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        now = now or utcnow()
        # One statement under BEGIN IMMEDIATE: the pick and the lease are one step for every process.
        # The index executions_outbox serves both the filter and the ORDER BY.
        with self._db.write() as connection:
            row = returning_one(
                connection,
                """UPDATE executions SET claimed_by = ?, claim_expires_at = ?
                   WHERE id = (
                       SELECT id FROM executions
                       WHERE status = 'queued' AND (claim_expires_at IS NULL OR claim_expires_at <= ?)
                       ORDER BY priority DESC, created_at, id LIMIT 1)
                   RETURNING *""",
                (
                    worker_id,
                    format_timestamp(now + timedelta(seconds=lease_seconds)),
                    format_timestamp(now),
                ),
            )
        return decode_row(ExecutionRecord, row)

    def queued_older_than(self, seconds: float, now: datetime | None = None) -> list[ExecutionRecord]:
        cutoff = (now or utcnow()) - timedelta(seconds=seconds)
        rows = self._db.fetch_all(
            "SELECT * FROM executions WHERE status = 'queued' AND enqueued_at <= ? ORDER BY enqueued_at, id",
            (format_timestamp(cutoff),),
        )
        return decode_rows(ExecutionRecord, rows)

    def running(self) -> list[ExecutionRecord]:
        rows = self._db.fetch_all(
            "SELECT * FROM executions WHERE status = 'running' ORDER BY created_at, id", ()
        )
        return decode_rows(ExecutionRecord, rows)

    def next_queued(self, limit: int, *, workflow_id: str | None = None,
                    owner_id: str | None = None) -> list[ExecutionRecord]:
        where, params = _of(workflow_id, owner_id)
        rows = self._db.fetch_all(
            f"SELECT * FROM executions WHERE status = 'queued'{where} ORDER BY priority DESC, created_at, id LIMIT ?",
            (*params, limit),
        )
        return decode_rows(ExecutionRecord, rows)

    def count_running(self, workflow_id: str | None = None, *, owner_id: str | None = None) -> int:
        where, params = _of(workflow_id, owner_id)
        row = self._db.fetch_one(f"SELECT COUNT(*) FROM executions WHERE status = 'running'{where}", params)
        return int(row[0]) if row else 0


def _of(workflow_id: str | None, owner_id: str | None) -> tuple[str, tuple[str, ...]]:
    """The extra WHERE terms (and their parameters) of a count or a queue read narrowed to one workflow or owner."""
    terms = [(column, value) for column, value in (("workflow_id", workflow_id), ("owner_id", owner_id))
             if value is not None]
    return "".join(f" AND {column} = ?" for column, _ in terms), tuple(value for _, value in terms)
