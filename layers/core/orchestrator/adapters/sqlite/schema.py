"""The SQLite schema and its migrations, versioned with ``PRAGMA user_version``.

Migration N (1-based) is ``MIGRATIONS[N - 1]``: statements run in one transaction together with raising
``user_version`` to N, so a database is always at a whole version. Append new migrations; never edit one
that has shipped. Timestamps are fixed-width ISO text (sorts in time order); payloads are JSON text.
"""

from __future__ import annotations

import sqlite3

_WORKFLOW_STATUSES = "'draft', 'active', 'paused', 'archived'"
_EXECUTION_STATUSES = "'queued', 'running', 'paused', 'completed', 'failed', 'cancelled', 'timed_out'"
_STEP_STATUSES = "'pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'retrying'"
_TRIGGER_TYPES = "'manual', 'schedule', 'event', 'webhook', 'condition'"

_INITIAL_SCHEMA: tuple[str, ...] = (
    f"""CREATE TABLE workflows (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ({_WORKFLOW_STATUSES})),
        owner_id TEXT NOT NULL,
        tags TEXT NOT NULL,
        is_template INTEGER NOT NULL,
        current_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        deleted_at TEXT
    )""",
    "CREATE INDEX workflows_by_page ON workflows (created_at, id)",
    "CREATE INDEX workflows_by_owner ON workflows (owner_id, created_at, id)",
    "CREATE INDEX workflows_by_status ON workflows (status, created_at, id)",
    # Tags are also kept one per row so that the tag filter is an index lookup, not a scan of JSON.
    """CREATE TABLE workflow_tags (
        tag TEXT NOT NULL,
        workflow_id TEXT NOT NULL REFERENCES workflows (id),
        PRIMARY KEY (tag, workflow_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX workflow_tags_by_workflow ON workflow_tags (workflow_id)",
    """CREATE TABLE workflow_versions (
        workflow_id TEXT NOT NULL REFERENCES workflows (id),
        version INTEGER NOT NULL CHECK (version >= 1),
        definition TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (workflow_id, version)
    )""",
    # Immutability enforced by the database itself, whatever code runs against it.
    """CREATE TRIGGER workflow_versions_are_immutable BEFORE UPDATE ON workflow_versions
    BEGIN SELECT RAISE(ABORT, 'workflow versions are immutable'); END""",
    """CREATE TRIGGER workflow_versions_are_kept BEFORE DELETE ON workflow_versions
    BEGIN SELECT RAISE(ABORT, 'workflow versions are immutable'); END""",
    f"""CREATE TABLE triggers (
        id TEXT PRIMARY KEY,
        workflow_id TEXT NOT NULL REFERENCES workflows (id),
        owner_id TEXT NOT NULL,
        type TEXT NOT NULL CHECK (type IN ({_TRIGGER_TYPES})),
        name TEXT NOT NULL,
        config TEXT NOT NULL,
        is_enabled INTEGER NOT NULL,
        trigger_count INTEGER NOT NULL,
        last_triggered TEXT,
        next_fire_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX triggers_by_workflow ON triggers (workflow_id, created_at, id)",
    "CREATE INDEX triggers_due ON triggers (next_fire_at) WHERE type = 'schedule' AND is_enabled = 1",
    f"""CREATE TABLE executions (
        id TEXT PRIMARY KEY,
        workflow_id TEXT NOT NULL REFERENCES workflows (id),
        workflow_version INTEGER NOT NULL,
        owner_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ({_EXECUTION_STATUSES})),
        input TEXT,
        output TEXT,
        error TEXT,
        cause TEXT,
        priority INTEGER NOT NULL,
        trigger_id TEXT,
        retry_of TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        duration REAL,
        enqueued_at TEXT NOT NULL,
        claimed_by TEXT,
        claim_expires_at TEXT,
        log_seq INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX executions_by_page ON executions (created_at, id)",
    "CREATE INDEX executions_by_workflow ON executions (workflow_id, created_at, id)",
    "CREATE INDEX executions_by_status ON executions (status, created_at, id)",
    "CREATE INDEX executions_by_owner ON executions (owner_id, created_at, id)",
    # The claim's filter and order in one index: the next execution to run is its first entry.
    "CREATE INDEX executions_outbox ON executions (status, priority DESC, created_at, id)",
    "CREATE INDEX executions_durations ON executions (workflow_id, duration) WHERE duration IS NOT NULL",
    f"""CREATE TABLE step_executions (
        id TEXT PRIMARY KEY,
        execution_id TEXT NOT NULL REFERENCES executions (id),
        step_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ({_STEP_STATUSES})),
        attempt INTEGER NOT NULL,
        input TEXT,
        output TEXT,
        output_ref TEXT,
        error TEXT,
        cause TEXT,
        started_at TEXT,
        ended_at TEXT,
        UNIQUE (execution_id, step_id)
    )""",
    "CREATE INDEX step_executions_failed ON step_executions (execution_id, step_id) WHERE status = 'failed'",
    """CREATE TABLE logs (
        execution_id TEXT NOT NULL REFERENCES executions (id),
        seq INTEGER NOT NULL,
        step_id TEXT,
        ts TEXT NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (execution_id, seq)
    ) WITHOUT ROWID""",
    "CREATE INDEX logs_by_step ON logs (execution_id, step_id, seq)",
    """CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        owner_id TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        is_admin INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        revoked INTEGER NOT NULL
    )""",
    "CREATE INDEX api_keys_by_owner ON api_keys (owner_id, created_at, id)",
    # Data plane: the interpreter's checkpoint logs, step results between steps, large payloads. Their
    # execution ids are the interpreter's and need not name a stored execution: no foreign keys.
    """CREATE TABLE checkpoint_runs (
        execution_id TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL,
        finished INTEGER NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX checkpoint_runs_unfinished ON checkpoint_runs (created_at, execution_id) WHERE finished = 0",
    """CREATE TABLE checkpoint_records (
        execution_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (execution_id, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE step_results (
        execution_id TEXT NOT NULL,
        step_key TEXT NOT NULL,
        record TEXT NOT NULL,
        PRIMARY KEY (execution_id, step_key)
    ) WITHOUT ROWID""",
    """CREATE TABLE blobs (
        key TEXT PRIMARY KEY,
        data BLOB NOT NULL,
        created_at TEXT NOT NULL
    )""",
)

# The per-workflow execution summary (counts by status, latest start) and the per-workflow concurrency
# limit read this index alone, instead of every execution row of the workflow.
_EXECUTIONS_BY_WORKFLOW_STATUS: tuple[str, ...] = (
    "CREATE INDEX executions_by_workflow_status ON executions (workflow_id, status, created_at)",
)

#: the per-owner concurrency limit counts an owner's running executions
_EXECUTIONS_BY_OWNER_STATUS: tuple[str, ...] = (
    "CREATE INDEX executions_by_owner_status ON executions (owner_id, status, created_at)",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_INITIAL_SCHEMA, _EXECUTIONS_BY_WORKFLOW_STATUS, _EXECUTIONS_BY_OWNER_STATUS)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection) -> None:
    """Bring the database up to ``SCHEMA_VERSION``. Safe when several processes start at once: the
    version is read again under the write lock, so each migration runs exactly once."""
    if schema_version(connection) == SCHEMA_VERSION:
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(connection)
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {current} is newer than this code's {SCHEMA_VERSION}; upgrade"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                connection.execute(statement)
            # user_version lives in the database header and is part of the transaction.
            connection.execute(f"PRAGMA user_version = {version}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
