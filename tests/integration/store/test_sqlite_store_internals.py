"""SQLite specifics the contract cannot see: pragmas, migrations, rollback, database-level guards."""

from __future__ import annotations

import gc
import sqlite3
import threading
from pathlib import Path

import pytest

from orchestrator.adapters.sqlite import SqliteStore, workflows
from orchestrator.adapters.sqlite.schema import SCHEMA_VERSION, schema_version
from orchestrator.domain.records import WorkflowRecord


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    opened = SqliteStore(tmp_path / "orchestrator.db")
    yield opened  # type: ignore[misc]
    opened.close()


def test_connections_are_set_up_for_several_processes(store: SqliteStore) -> None:
    connection = store._db.connection()
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    assert schema_version(connection) == SCHEMA_VERSION


def test_opening_an_up_to_date_database_again_migrates_nothing(store: SqliteStore, tmp_path: Path) -> None:
    workflow = store.create_workflow(WorkflowRecord(name="kept", owner_id="alice"), {"steps": []})
    again = SqliteStore(tmp_path / "orchestrator.db")
    assert again.get_workflow(workflow.id) == workflow
    again.close()


def test_a_database_from_newer_code_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        SqliteStore(path)


def test_an_error_in_the_middle_of_a_write_rolls_all_of_it_back(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workflow write that fails after its row was inserted, before its tags and version
    def broken_tag_writer(*_: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(workflows, "_write_tags", broken_tag_writer)
    record = WorkflowRecord(name="half", owner_id="alice", tags=["x"])
    with pytest.raises(sqlite3.OperationalError):
        store.create_workflow(record, {"steps": []})
    # Then no part of it is stored, and the connection is usable for the next write
    assert store.get_workflow(record.id, include_deleted=True) is None
    assert store.list_workflow_versions(record.id) == []
    monkeypatch.undo()
    assert store.create_workflow(record, {"steps": []}).current_version == 1


def test_the_database_itself_refuses_to_change_a_version(store: SqliteStore) -> None:
    workflow = store.create_workflow(WorkflowRecord(name="w", owner_id="alice"), {"steps": []})
    with pytest.raises(sqlite3.IntegrityError, match="immutable"), store._db.write() as connection:
        connection.execute(
            "UPDATE workflow_versions SET definition = '{}' WHERE workflow_id = ?", (workflow.id,)
        )
    with pytest.raises(sqlite3.IntegrityError, match="immutable"), store._db.write() as connection:
        connection.execute("DELETE FROM workflow_versions WHERE workflow_id = ?", (workflow.id,))
    assert store.get_workflow_version(workflow.id, 1).definition == {"steps": []}  # type: ignore[union-attr]


def test_list_queries_use_indexes(store: SqliteStore) -> None:
    connection = store._db.connection()

    def plan(sql: str, *params: object) -> str:
        return " ".join(row[3] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params))

    assert "executions_outbox" in plan(
        "SELECT id FROM executions WHERE status = 'queued' AND (claim_expires_at IS NULL OR claim_expires_at <= ?)"
        " ORDER BY priority DESC, created_at, id LIMIT 1",
        "2024",
    )
    assert "executions_by_workflow" in plan(
        "SELECT * FROM executions WHERE workflow_id = ? ORDER BY created_at DESC, id DESC LIMIT 5", "w"
    )
    assert "triggers_due" in plan(
        "SELECT * FROM triggers WHERE type = 'schedule' AND is_enabled = 1 AND next_fire_at IS NOT NULL"
        " AND next_fire_at <= ? ORDER BY next_fire_at, id LIMIT 5",
        "2024",
    )
    assert "workflow_tags" in plan("SELECT workflow_id FROM workflow_tags WHERE tag = ?", "etl")


def test_the_connections_of_finished_threads_are_released(store: SqliteStore) -> None:
    # Given twenty short-lived threads that each used the store (one connection per thread)
    for _ in range(20):
        worker = threading.Thread(target=store.stats)
        worker.start()
        worker.join()
    gc.collect()
    # Then only the connection of the thread still alive (this one) remains open
    assert len(store._db._open_connections) == 1


def test_closing_waits_for_the_statements_running_on_other_threads(tmp_path: Path) -> None:
    # Given a store with a write transaction open on another thread
    store = SqliteStore(tmp_path / "closing.db")
    in_write, finish_write = threading.Event(), threading.Event()

    def write() -> None:
        with store._db.write() as connection:
            connection.execute("CREATE TABLE scratch (n INTEGER)")
            in_write.set()
            finish_write.wait(5)
            connection.execute("INSERT INTO scratch VALUES (1)")

    writer = threading.Thread(target=write)
    writer.start()
    assert in_write.wait(5)
    # When the store is closed meanwhile
    closer = threading.Thread(target=store.close)
    closer.start()
    closer.join(0.2)
    # Then closing waits (closing a connection under a running statement crashes sqlite3)
    assert closer.is_alive()
    # and completes once the write has committed
    finish_write.set()
    writer.join(5)
    closer.join(5)
    assert not closer.is_alive()
    with sqlite3.connect(tmp_path / "closing.db") as check:
        assert check.execute("SELECT n FROM scratch").fetchall() == [(1,)]
