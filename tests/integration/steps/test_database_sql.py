"""The database step's SQL operations on real servers: SQLite (a file in tmp_path) always, PostgreSQL on a
throwaway cluster when Debian's server binaries and psycopg are installed (skipped otherwise, saying why)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestrator.steps import db_connections
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.database import DatabaseConfig, DatabaseExecutor
from support import postgres_cluster
from support.local_http import closed_port


@dataclass
class Backend:
    name: str
    url: str
    admin: Callable[[str], list[tuple[Any, ...]]]  # runs SQL outside the step, for set-up and checks


@pytest.fixture(scope="module")
def postgres() -> Iterator[postgres_cluster.PostgresCluster]:
    reason = postgres_cluster.unavailable()
    if reason:
        pytest.skip(reason)
    cluster = postgres_cluster.PostgresCluster().start()
    yield cluster
    db_connections.reset()
    cluster.stop()


def _sqlite_admin(path: Path) -> Callable[[str], list[tuple[Any, ...]]]:
    def admin(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(path) as conn:
            return conn.execute(sql).fetchall()
    return admin


def _postgres_admin(url: str) -> Callable[[str], list[tuple[Any, ...]]]:
    import psycopg

    def admin(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url, autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []
    return admin


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "app.db"
        backend = Backend("sqlite", f"sqlite:///{path}", _sqlite_admin(path))
        id_column = "id INTEGER PRIMARY KEY"
    else:
        cluster = request.getfixturevalue("postgres")
        backend = Backend("postgresql", cluster.url, _postgres_admin(cluster.url))
        backend.admin("DROP TABLE IF EXISTS items")
        id_column = "id SERIAL PRIMARY KEY"
    backend.admin(f"CREATE TABLE items ({id_column}, name TEXT NOT NULL UNIQUE, price REAL DEFAULT 1.5, "
                  "meta TEXT)")
    monkeypatch.setenv("ORCHESTRATOR_DB_MAIN_DB", backend.url)
    yield backend
    if request.param == "sqlite":
        db_connections.reset()


def run(inputs: dict[str, Any] | None = None, raw: dict[str, Any] | None = None, **config: Any) -> dict[str, Any]:
    # the operator's run: its ORCHESTRATOR_DB_* connections (tenants' reach: tests/security/test_database_reach.py)
    ctx = StepContext(execution_id="exec-1", step_id="save", workflow_steps={"save": {"config": raw or config}},
                      trusted=True)
    full = {"connection": "main_db", **config}
    return DatabaseExecutor().execute(DatabaseConfig.model_validate(full), inputs or {}, ctx).output


def fails(**kwargs: Any) -> StepError:
    with pytest.raises(StepError) as caught:
        run(**kwargs)
    return caught.value


def test_insert_one_row_then_query_it_back(backend: Backend) -> None:
    # Given an empty table
    # When a row is inserted and queried with a named parameter
    inserted = run(operation="insert", table="items", data={"name": "Dune", "price": 9.5})
    queried = run(operation="query", sql="SELECT name, price FROM items WHERE name = :name",
                  params={"name": "Dune"})
    # Then the insert reports one row (SQLite also its rowid) and the query returns rows as dicts
    assert inserted["rowcount"] == 1
    assert inserted["lastrowid"] == (1 if backend.name == "sqlite" else None)
    assert queried == {"rows": [{"name": "Dune", "price": 9.5}], "row_count": 1, "truncated": False}


def test_insert_many_rows_from_the_inputs_keeps_column_defaults(backend: Backend) -> None:
    # Given rows as seed 002 maps them (input_mapping data:), one without a price
    rows = [{"name": "A", "price": 2.0}, {"name": "B"}, {"name": "C", "price": 3.0}]
    # When they are inserted
    output = run(inputs={"data": rows}, operation="insert", table="items")
    # Then all are stored and the missing price took the column default, not NULL
    assert output["rowcount"] == 3
    assert backend.admin("SELECT name, price FROM items ORDER BY name") == [("A", 2.0), ("B", 1.5), ("C", 3.0)]


def test_positional_parameters_and_execute_rowcount(backend: Backend) -> None:
    # Given two rows
    run(operation="insert", table="items", data=[{"name": "A", "price": 1.0}, {"name": "B", "price": 2.0}])
    # When an UPDATE with ? parameters runs
    output = run(operation="execute", sql="UPDATE items SET price = price * ? WHERE price >= ?", params=[10, 1.5])
    # Then it reports the rows it changed
    assert output["rowcount"] == 1
    assert backend.admin("SELECT price FROM items WHERE name = 'B'") == [(20.0,)]


def test_named_parameters_come_from_inputs_too(backend: Backend) -> None:
    # Given a row and a query whose :name is not in params but in the step's inputs
    run(operation="insert", table="items", data={"name": "Dune"})
    # When it runs
    output = run(inputs={"wanted": "Dune", "unrelated": {"big": "object"}}, operation="query",
                 sql="SELECT name FROM items WHERE name = :wanted")
    # Then the input was bound (and the unrelated input ignored)
    assert output["rows"] == [{"name": "Dune"}]


def test_values_are_bound_never_spliced(backend: Backend) -> None:
    # Given a value that would be an injection if it were spliced into the SQL
    evil = "x'); DROP TABLE items; --"
    # When it is inserted and queried through parameters
    run(operation="insert", table="items", data={"name": evil})
    output = run(operation="query", sql="SELECT count(*) AS n FROM items WHERE name = ?", params=[evil])
    # Then it is stored literally and the table is intact
    assert output["rows"] == [{"n": 1}]


def test_mapping_values_are_stored_as_json(backend: Backend) -> None:
    # Given a row whose meta is a mapping (stored as JSON text in a TEXT column)
    if backend.name == "postgresql":
        backend.admin("ALTER TABLE items ALTER COLUMN meta TYPE JSONB USING meta::jsonb")
    # When it is inserted and read back
    run(operation="insert", table="items", data={"name": "A", "meta": {"tags": ["x"]}})
    output = run(operation="query", sql="SELECT meta FROM items")
    # Then the mapping round-trips (JSONB comes back as a mapping, SQLite's text as JSON text)
    meta = output["rows"][0]["meta"]
    assert meta == ({"tags": ["x"]} if backend.name == "postgresql" else '{"tags": ["x"]}')


def test_max_rows_truncates_and_says_so(backend: Backend) -> None:
    # Given five rows
    run(operation="insert", table="items", data=[{"name": str(i)} for i in range(5)])
    # When a query keeps at most three
    output = run(operation="query", sql="SELECT name FROM items ORDER BY name", max_rows=3)
    # Then three rows come back, flagged as truncated
    assert output["row_count"] == 3 and output["truncated"] is True


def test_constraint_violation_is_not_retryable(backend: Backend) -> None:
    # Given a row
    run(operation="insert", table="items", data={"name": "Dune"})
    # When the same unique name is inserted again
    error = fails(operation="insert", table="items", data={"name": "Dune"})
    # Then it is a constraint error naming the connection and operation, not retryable
    assert error.error == "Database.Constraint" and not error.retryable
    assert error.cause.startswith(f"database 'main_db' ({backend.name}) insert:")


def test_failed_statement_rolls_back_the_whole_insert(backend: Backend) -> None:
    # Given rows of which the last breaks a constraint
    # When they are inserted in one step
    fails(operation="insert", table="items", data=[{"name": "A"}, {"name": "B"}, {"name": None}])
    # Then nothing was stored: the step is one transaction
    assert backend.admin("SELECT count(*) FROM items") == [(0,)]


def test_sql_syntax_error_is_not_retryable(backend: Backend) -> None:
    # Given broken SQL
    error = fails(operation="query", sql="SELEC name FROM items")
    # Then it is an SQL error, not retryable
    assert error.error == "Database.SqlError" and not error.retryable


def test_bad_identifiers_are_refused_before_any_sql(backend: Backend) -> None:
    # Given a table name that tries to smuggle in SQL, and a column name that does
    bad_table = fails(operation="insert", table="items; DROP TABLE items", data={"name": "x"})
    bad_column = fails(operation="insert", table="items", data={'name") VALUES (1); --': "x"})
    # Then both are refused by name, and the table is untouched
    assert bad_table.error == bad_column.error == "Database.InvalidIdentifier"
    assert backend.admin("SELECT count(*) FROM items") == [(0,)]


def test_missing_and_mismatched_parameters_are_named(backend: Backend) -> None:
    # Given queries whose parameters do not match their placeholders
    missing = fails(operation="query", sql="SELECT * FROM items WHERE name = :name AND price = :price",
                    params={"name": "x"})
    count = fails(operation="query", sql="SELECT * FROM items WHERE name = ?", params=["a", "b"])
    # Then each error says what is missing
    assert missing.error == "Database.MissingParams" and ":price" in missing.cause
    assert count.error == "Database.MissingParams" and "1 ? placeholder" in count.cause


# -- SQLite only ----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "app.db"
    _sqlite_admin(path)("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    monkeypatch.setenv("ORCHESTRATOR_DB_MAIN_DB", f"sqlite:///{path}")
    yield path
    db_connections.reset()


def test_locked_database_is_retryable(sqlite_db: Path) -> None:
    # Given another connection holding an exclusive lock
    holder = sqlite3.connect(sqlite_db)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        # When the step writes with a short timeout
        error = fails(operation="insert", table="items", data={"name": "x"}, timeout="200ms")
    finally:
        holder.rollback()
        holder.close()
    # Then it is a retryable lock error
    assert error.error == "Database.Locked" and error.retryable


def test_connections_are_pooled_per_url(sqlite_db: Path) -> None:
    # Given two steps on the same connection run one after the other
    run(operation="insert", table="items", data={"name": "a"})
    run(operation="query", sql="SELECT * FROM items")
    # Then one connection served both and waits idle in the pool
    pool = db_connections.sql_pool(f"sqlite:///{sqlite_db}", connect_timeout=1)
    assert len(pool._idle) == 1


def test_parallel_steps_share_the_pool_safely(sqlite_db: Path) -> None:
    # Given eight threads inserting at once (the local engine runs parallel steps on threads)
    errors: list[BaseException] = []

    def insert(i: int) -> None:
        try:
            run(operation="insert", table="items", data={"name": f"n{i}"})
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=insert, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then every insert landed
    assert errors == []
    assert _sqlite_admin(sqlite_db)("SELECT count(*) FROM items") == [(8,)]


def test_template_in_raw_sql_is_refused_at_run_time(sqlite_db: Path) -> None:
    # Given a step whose raw definition built SQL from a template (the rendered SQL no longer shows it)
    raw = {"operation": "execute", "sql": "DELETE FROM items WHERE name = '{{input.name}}'"}
    # When it runs (e.g. the workflow was never validated)
    error = fails(raw=raw, operation="execute", sql="DELETE FROM items WHERE name = 'x'")
    # Then it is refused, pointing at params
    assert error.error == "Database.TemplateInSql" and not error.retryable and "params" in error.cause


def test_unknown_connection_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no configuration for the connection
    monkeypatch.delenv("ORCHESTRATOR_DB_REPORTING", raising=False)
    # When a step uses it
    error = fails(connection="reporting", operation="query", sql="SELECT 1")
    # Then the error names the environment variable / secret to set
    assert error.error == "Database.UnknownConnection" and "ORCHESTRATOR_DB_REPORTING" in error.cause


def test_connection_url_from_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the URL only as a secret of the same name
    monkeypatch.delenv("ORCHESTRATOR_DB_VAULTED", raising=False)
    path = tmp_path / "vaulted.db"
    secrets = {"DB_VAULTED": f"sqlite:///{path}"}

    def render(value: Any) -> Any:
        name = value.removeprefix("{{secrets.").removesuffix("}}")
        return secrets[name]

    ctx = StepContext(execution_id="e", step_id="s", render=render, trusted=True)
    config = DatabaseConfig(connection="vaulted", operation="query", sql="SELECT 41 + 1 AS answer")
    # When the step runs
    output = DatabaseExecutor().execute(config, {}, ctx).output
    db_connections.reset()
    # Then it reached the database the secret names
    assert output["rows"] == [{"answer": 42}]


def test_mongo_operation_on_a_sql_connection_is_refused(sqlite_db: Path) -> None:
    error = fails(operation="find", collection="items")
    assert error.error == "Database.WrongOperation" and not error.retryable


# -- PostgreSQL only ------------------------------------------------------------------------------


def test_postgres_types_casts_and_percent_signs(postgres: postgres_cluster.PostgresCluster,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Given SQL with a :: cast, a literal % and a ':' inside a string, and NUMERIC / TIMESTAMP results
    monkeypatch.setenv("ORCHESTRATOR_DB_MAIN_DB", postgres.url)
    sql = ("SELECT '100%' AS pct, '12:30' AS clock, :n::numeric(10,2) AS amount, "
           "TIMESTAMP '2024-05-01 12:00:00' AS at, :label AS label")
    # When it runs
    output = run(operation="query", sql=sql, params={"n": "12.50", "label": "ok"})
    # Then the placeholders were bound and the values made JSON-safe
    assert output["rows"] == [{"pct": "100%", "clock": "12:30", "amount": 12.5, "at": "2024-05-01T12:00:00",
                               "label": "ok"}]


def test_postgres_statement_timeout_is_retryable(postgres: postgres_cluster.PostgresCluster,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a statement slower than the step's timeout
    monkeypatch.setenv("ORCHESTRATOR_DB_MAIN_DB", postgres.url)
    # When it runs
    error = fails(operation="query", sql="SELECT pg_sleep(5)", timeout="300ms")
    # Then the server cancelled it and the step may retry
    assert error.error == "Database.Timeout" and error.retryable


def test_postgres_unreachable_is_retryable_and_hides_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install 'orchestrator[postgres]'")
    # Given a URL with a password pointing at a closed port
    password = "Pg-Pa55word-xyz"
    monkeypatch.setenv("ORCHESTRATOR_DB_MAIN_DB", f"postgresql://app:{password}@127.0.0.1:{closed_port()}/app")
    # When a step runs
    error = fails(operation="query", sql="SELECT 1", timeout="2s")
    db_connections.reset()
    # Then it is a retryable connection error without the password
    assert error.error == "Database.Connection" and error.retryable
    assert password not in error.cause
