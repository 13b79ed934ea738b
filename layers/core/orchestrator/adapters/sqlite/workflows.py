"""Workflows and their immutable versions in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from typing import Any

from orchestrator.adapters.sqlite.database import Database
from orchestrator.adapters.sqlite.sql import (
    Filters,
    decode_row,
    decode_rows,
    insert_row,
    page_query,
    placeholders,
    set_clause,
)
from orchestrator.adapters.store_support.codec import Layout, encode_changes, encode_record
from orchestrator.adapters.store_support.filters import workflow_filters
from orchestrator.adapters.store_support.paging import check_page_size, page_of
from orchestrator.adapters.store_support.records import new_workflow, next_workflow_version, require_found
from orchestrator.adapters.store_support.rules import WORKFLOW_EDITABLE_FIELDS, check_expected_version
from orchestrator.adapters.store_support.summaries import with_execution_summaries
from orchestrator.domain.records import (
    WorkflowRecord,
    WorkflowStatus,
    WorkflowVersion,
    format_timestamp,
    utcnow,
)
from orchestrator.ports.store import DEFAULT_PAGE_SIZE, DuplicateRecord, Page, RecordNotFound


def _write_tags(connection: sqlite3.Connection, workflow_id: str, tags: Collection[str]) -> None:
    connection.execute("DELETE FROM workflow_tags WHERE workflow_id = ?", (workflow_id,))
    connection.executemany(
        "INSERT OR IGNORE INTO workflow_tags (tag, workflow_id) VALUES (?, ?)",
        [(tag, workflow_id) for tag in tags],
    )


def _summarised(connection: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[WorkflowRecord]:
    workflows = decode_rows(WorkflowRecord, rows)
    if not workflows:
        return []
    ids = [workflow.id for workflow in workflows]
    status_counts = connection.execute(
        f"""SELECT workflow_id, status, count(*), max(created_at) FROM executions
            WHERE workflow_id IN ({placeholders(len(ids))}) GROUP BY workflow_id, status""",
        ids,
    ).fetchall()
    return with_execution_summaries(workflows, (tuple(row) for row in status_counts))


class SqliteWorkflows:
    _db: Database

    def create_workflow(self, workflow: WorkflowRecord, definition: dict[str, Any]) -> WorkflowRecord:
        row, first_version = new_workflow(workflow, definition, Layout.ROWS)
        with self._db.write() as connection:
            try:
                insert_row(connection, "workflows", row)
            except sqlite3.IntegrityError as error:
                raise DuplicateRecord("workflow", workflow.id) from error
            _write_tags(connection, workflow.id, workflow.tags)
            insert_row(connection, "workflow_versions", first_version)
        return self._require_workflow(workflow.id)

    def get_workflow(self, workflow_id: str, *, include_deleted: bool = False,
                     with_summary: bool = True) -> WorkflowRecord | None:
        with self._db.read() as connection:
            row = connection.execute("SELECT * FROM workflows WHERE id = ?", (workflow_id,)).fetchone()
            if row is None or (row["deleted_at"] is not None and not include_deleted):
                return None
            return _summarised(connection, [row])[0] if with_summary else decode_row(WorkflowRecord, row)

    def _require_workflow(self, workflow_id: str) -> WorkflowRecord:
        return require_found(self.get_workflow(workflow_id), "workflow", workflow_id)

    def list_workflows(
        self,
        *,
        owner_id: str | None = None,
        status: WorkflowStatus | str | None = None,
        tags: Collection[str] = (),
        include_deleted: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[WorkflowRecord]:
        check_page_size(limit)
        filters = Filters()
        if not include_deleted:
            filters.add("deleted_at IS NULL")
        filters.add_equal(workflow_filters(owner_id=owner_id, status=status))
        for tag in dict.fromkeys(tags):
            filters.add("id IN (SELECT workflow_id FROM workflow_tags WHERE tag = ?)", tag)
        with self._db.read() as connection:
            rows = connection.execute(*page_query("workflows", filters, cursor, limit)).fetchall()
            return page_of(_summarised(connection, rows), limit)

    def update_workflow(
        self,
        workflow_id: str,
        *,
        definition: dict[str, Any] | None = None,
        expected_version: int | None = None,
        **changes: Any,
    ) -> WorkflowRecord:
        values = encode_changes(WorkflowRecord, changes, WORKFLOW_EDITABLE_FIELDS, Layout.ROWS)
        now = utcnow()
        values["updated_at"] = format_timestamp(now)
        with self._db.write() as connection:
            row = connection.execute(
                "SELECT current_version FROM workflows WHERE id = ? AND deleted_at IS NULL", (workflow_id,)
            ).fetchone()
            if row is None:
                raise RecordNotFound("workflow", workflow_id)
            current_version = int(row["current_version"])
            check_expected_version(workflow_id, expected_version, current_version)
            if definition is not None:
                version = next_workflow_version(workflow_id, current_version, definition, now)
                insert_row(connection, "workflow_versions", encode_record(version, Layout.ROWS))
                values["current_version"] = version.version
            connection.execute(
                f"UPDATE workflows SET {set_clause(values)} WHERE id = ?", (*values.values(), workflow_id)
            )
            if "tags" in changes:
                _write_tags(connection, workflow_id, changes["tags"])
        return self._require_workflow(workflow_id)

    def set_workflow_status(self, workflow_id: str, status: WorkflowStatus | str) -> WorkflowRecord:
        new_status = WorkflowStatus(status)
        with self._db.write() as connection:
            updated = connection.execute(
                "UPDATE workflows SET status = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
                (new_status.value, format_timestamp(utcnow()), workflow_id),
            ).rowcount
        if not updated:
            raise RecordNotFound("workflow", workflow_id)
        return self._require_workflow(workflow_id)

    def delete_workflow(self, workflow_id: str) -> bool:
        now = format_timestamp(utcnow())
        with self._db.write() as connection:
            deleted = connection.execute(
                "UPDATE workflows SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
                (now, now, workflow_id),
            ).rowcount
            # A deleted workflow must not be started by its schedules, webhooks or events any more.
            connection.execute(
                "UPDATE triggers SET is_enabled = 0, updated_at = ? WHERE workflow_id = ?", (now, workflow_id)
            )
        return bool(deleted)

    def get_workflow_version(self, workflow_id: str, version: int) -> WorkflowVersion | None:
        row = self._db.fetch_one(
            "SELECT * FROM workflow_versions WHERE workflow_id = ? AND version = ?", (workflow_id, version)
        )
        return decode_row(WorkflowVersion, row)

    def list_workflow_versions(self, workflow_id: str) -> list[WorkflowVersion]:
        rows = self._db.fetch_all(
            "SELECT * FROM workflow_versions WHERE workflow_id = ? ORDER BY version", (workflow_id,)
        )
        return decode_rows(WorkflowVersion, rows)
