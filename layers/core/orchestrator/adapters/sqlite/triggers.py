"""Triggers in SQLite, with the compare-and-set that makes each schedule fire time start one execution."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orchestrator.adapters.sqlite.database import Database
from orchestrator.adapters.sqlite.sql import (
    decode_found,
    decode_row,
    decode_rows,
    insert_for_live_workflow,
    returning_one,
    set_clause,
)
from orchestrator.adapters.store_support.codec import Layout, encode_changes
from orchestrator.adapters.store_support.records import require_found
from orchestrator.adapters.store_support.rules import TRIGGER_EDITABLE_FIELDS, check_fire_time_advances
from orchestrator.domain.records import TriggerRecord, format_timestamp, utcnow


def _stored_time(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)


class SqliteTriggers:
    _db: Database

    def create_trigger(self, trigger: TriggerRecord) -> TriggerRecord:
        with self._db.write() as connection:
            insert_for_live_workflow(connection, "triggers", "trigger", trigger)
        return require_found(self.get_trigger(trigger.id), "trigger", trigger.id)

    def get_trigger(self, trigger_id: str) -> TriggerRecord | None:
        return decode_row(
            TriggerRecord, self._db.fetch_one("SELECT * FROM triggers WHERE id = ?", (trigger_id,))
        )

    def list_triggers(self, workflow_id: str) -> list[TriggerRecord]:
        rows = self._db.fetch_all(
            "SELECT * FROM triggers WHERE workflow_id = ? ORDER BY created_at, id", (workflow_id,)
        )
        return decode_rows(TriggerRecord, rows)

    def update_trigger(self, trigger_id: str, **changes: Any) -> TriggerRecord:
        values = encode_changes(TriggerRecord, changes, TRIGGER_EDITABLE_FIELDS, Layout.ROWS)
        values["updated_at"] = format_timestamp(utcnow())
        with self._db.write() as connection:
            row = returning_one(
                connection,
                f"UPDATE triggers SET {set_clause(values)} WHERE id = ? RETURNING *",
                (*values.values(), trigger_id),
            )
        return decode_found(TriggerRecord, row, "trigger", trigger_id)

    def delete_trigger(self, trigger_id: str) -> bool:
        with self._db.write() as connection:
            return bool(connection.execute("DELETE FROM triggers WHERE id = ?", (trigger_id,)).rowcount)

    def due_schedule_triggers(self, now: datetime | None = None, limit: int = 100) -> list[TriggerRecord]:
        # The literal type/is_enabled terms match the partial index triggers_due.
        rows = self._db.fetch_all(
            """SELECT * FROM triggers
               WHERE type = 'schedule' AND is_enabled = 1 AND next_fire_at IS NOT NULL AND next_fire_at <= ?
               ORDER BY next_fire_at, id LIMIT ?""",
            (format_timestamp(now or utcnow()), limit),
        )
        return decode_rows(TriggerRecord, rows)

    def claim_trigger_fire(
        self, trigger_id: str, expected_next_fire_at: datetime, new_next_fire_at: datetime | None
    ) -> bool:
        check_fire_time_advances(expected_next_fire_at, new_next_fire_at)
        with self._db.write() as connection:
            claimed = connection.execute(
                """UPDATE triggers SET next_fire_at = ?, updated_at = ?
                   WHERE id = ? AND next_fire_at = ? AND is_enabled = 1""",
                (
                    _stored_time(new_next_fire_at),
                    format_timestamp(utcnow()),
                    trigger_id,
                    format_timestamp(expected_next_fire_at),
                ),
            ).rowcount
        return claimed == 1

    def record_trigger_fired(self, trigger_id: str, at: datetime | None = None) -> TriggerRecord:
        with self._db.write() as connection:
            row = returning_one(
                connection,
                """UPDATE triggers SET trigger_count = trigger_count + 1, last_triggered = ?
                   WHERE id = ? RETURNING *""",
                (format_timestamp(at or utcnow()), trigger_id),
            )
        return decode_found(TriggerRecord, row, "trigger", trigger_id)
