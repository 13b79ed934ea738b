"""Executions in SQLite: the outbox claim and the compare-and-set lifecycle transitions."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from orchestrator.adapters.sqlite.database import Database
from orchestrator.adapters.sqlite.sql import (
    Filters,
    decode_found,
    decode_row,
    decode_rows,
    insert_row,
    returning_one,
    set_clause,
)
from orchestrator.adapters.store_support.codec import Layout, encode_changes, encode_record
from orchestrator.adapters.store_support.paging import check_page_size, page_of
from orchestrator.adapters.store_support.rules import TRANSITION_FIELDS, expected_statuses
from orchestrator.domain.lifecycle import InvalidTransition
from orchestrator.domain.records import ExecutionRecord, ExecutionStatus, format_timestamp, utcnow
from orchestrator.ports.store import DEFAULT_PAGE_SIZE, DuplicateRecord, Page, RecordNotFound


class SqliteExecutions:
    _db: Database

    def create_execution(self, execution: ExecutionRecord) -> ExecutionRecord:
        with self._db.write() as connection:
            workflow = connection.execute(
                "SELECT 1 FROM workflows WHERE id = ? AND deleted_at IS NULL", (execution.workflow_id,)
            ).fetchone()
            if workflow is None:
                raise RecordNotFound("workflow", execution.workflow_id)
            try:
                insert_row(connection, "executions", encode_record(execution, Layout.ROWS))
            except sqlite3.IntegrityError as error:
                raise DuplicateRecord("execution", execution.id) from error
        return self._require_execution(execution.id)

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        row = self._db.fetch_one("SELECT * FROM executions WHERE id = ?", (execution_id,))
        return decode_row(ExecutionRecord, row)

    def _require_execution(self, execution_id: str) -> ExecutionRecord:
        execution = self.get_execution(execution_id)
        if execution is None:
            raise RecordNotFound("execution", execution_id)
        return execution

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
        if workflow_id is not None:
            filters.add("workflow_id = ?", workflow_id)
        if status is not None:
            filters.add("status = ?", ExecutionStatus(status).value)
        if owner_id is not None:
            filters.add("owner_id = ?", owner_id)
        filters.after_cursor(cursor)
        rows = self._db.fetch_all(
            f"SELECT * FROM executions {filters.where()} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*filters.params, limit + 1),
        )
        return page_of(decode_rows(ExecutionRecord, rows), limit)

    def transition(
        self,
        execution_id: str,
        expected_from: Collection[ExecutionStatus | str] | ExecutionStatus | str,
        to: ExecutionStatus | str,
        **fields: Any,
    ) -> ExecutionRecord:
        allowed_from = expected_statuses(expected_from, to)
        values = {"status": ExecutionStatus(to).value}
        values.update(encode_changes(ExecutionRecord, fields, TRANSITION_FIELDS, Layout.ROWS))
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
