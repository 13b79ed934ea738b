"""SQL operations of the ``database`` step (SQLite via sqlite3, PostgreSQL via psycopg 3).

Values are always bound, never spliced into SQL text: ``query``/``execute`` take ``:name`` or ``?``
placeholders; ``insert`` builds its statement from identifiers checked against a strict pattern and
quoted, with every value a placeholder.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.steps.base import StepError
from orchestrator.steps.json_safe import json_safe
from orchestrator.steps.sql_params import SqlParamError, placeholders, to_psycopg

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_identifier(name: str, what: str) -> str:
    """``"name"`` (or ``"schema"."table"``) after checking each part against ``IDENTIFIER``."""
    parts = name.split(".")
    if len(parts) > 2 or not all(IDENTIFIER.match(p) for p in parts):
        raise StepError("Database.InvalidIdentifier", f"{what} {name!r} is not a plain identifier "
                        "(letters, digits, _; optionally schema.name)", retryable=False)
    return ".".join(f'"{p}"' for p in parts)


class SqlSession:
    """One operation on one pooled connection, in one transaction, for one dialect."""

    def __init__(self, conn: Any, dialect: str, timeout: float) -> None:
        self.conn = conn
        self.dialect = dialect  # "sqlite" | "postgresql"
        self._set_timeout(timeout)

    def _set_timeout(self, timeout: float) -> None:
        ms = max(1, int(timeout * 1000))
        if self.dialect == "sqlite":
            # how long to wait for another writer's lock before "database is locked"
            self.conn.execute(f"PRAGMA busy_timeout = {ms}")
        else:
            # transaction-local: the pooled connection keeps no step's setting
            self.conn.execute("SELECT set_config('statement_timeout', %s, true)", (str(ms),))

    def _bindable(self, value: Any) -> Any:
        if isinstance(value, Mapping) or (isinstance(value, list | tuple) and self.dialect == "sqlite"):
            # SQLite has no JSON or array type: store JSON text, which its json_* functions read
            return json.dumps(value, default=str) if self.dialect == "sqlite" else _jsonb(value)
        return value

    def _prepare(self, sql: str, params: Any, inputs: Mapping[str, Any]) -> tuple[str, Any]:
        try:
            found = placeholders(sql)
        except SqlParamError as exc:
            raise StepError("Database.InvalidSql", str(exc), retryable=False) from None
        if found.style == "positional":
            if not isinstance(params, list | tuple):
                raise StepError("Database.MissingParams", f"the SQL has {found.positional} ? placeholder(s): "
                                "give `params` as a list", retryable=False)
            if len(params) != found.positional:
                raise StepError("Database.MissingParams", f"the SQL has {found.positional} ? placeholder(s) "
                                f"but `params` has {len(params)} value(s)", retryable=False)
            bound: Any = [self._bindable(v) for v in params]
        else:
            if isinstance(params, list | tuple):
                raise StepError("Database.MissingParams", "`params` is a list but the SQL uses :name placeholders "
                                "(or none)", retryable=False)
            # named values come from `params`, else from the step's inputs of the same name
            scope = {**inputs, **(params or {})}
            missing = [n for n in found.names if n not in scope]
            if missing:
                raise StepError("Database.MissingParams", f"no value for :{', :'.join(missing)} in `params` or the "
                                "step's inputs", retryable=False)
            bound = {n: self._bindable(scope[n]) for n in found.names}
        if self.dialect == "postgresql":
            sql = to_psycopg(sql)
        return sql, bound

    def query(self, sql: str, params: Any, inputs: Mapping[str, Any], max_rows: int) -> dict[str, Any]:
        sql, bound = self._prepare(sql, params, inputs)
        cur = self.conn.cursor()
        cur.execute(sql, bound)
        rows = cur.fetchmany(max_rows + 1) if cur.description is not None else []
        truncated = len(rows) > max_rows
        rows = rows[:max_rows]
        self.conn.commit()  # a query may be INSERT ... RETURNING; and the pooled connection must be idle
        return {"rows": [json_safe(dict(r)) for r in rows], "row_count": len(rows), "truncated": truncated}

    def execute(self, sql: str, params: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
        sql, bound = self._prepare(sql, params, inputs)
        cur = self.conn.cursor()
        cur.execute(sql, bound)
        result = {"rowcount": cur.rowcount, "lastrowid": self._lastrowid(cur)}
        self.conn.commit()
        return result

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        target = quote_identifier(table, "table")
        mark = "?" if self.dialect == "sqlite" else "%s"
        cur = self.conn.cursor()
        total = 0
        # rows may differ in their keys: one statement per distinct column list, in first-seen order,
        # so that a missing key means the column's DEFAULT, not NULL
        groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(row)
        for columns, group in groups.items():
            if not columns:
                raise StepError("Database.InvalidRows", "a row to insert has no columns", retryable=False)
            names = ", ".join(quote_identifier(c, "column") for c in columns)
            sql = f"INSERT INTO {target} ({names}) VALUES ({', '.join(mark for _ in columns)})"
            values = [[self._bindable(row[c]) for c in columns] for row in group]
            if len(values) == 1:
                cur.execute(sql, values[0])
            else:
                cur.executemany(sql, values)
            total += cur.rowcount if cur.rowcount >= 0 else len(values)  # -1: the driver cannot tell
        lastrowid = self._lastrowid(cur) if len(rows) == 1 else None
        self.conn.commit()
        return {"rowcount": total, "lastrowid": lastrowid}

    def _lastrowid(self, cur: Any) -> int | None:
        # PostgreSQL has no rowid (psycopg reports an OID or 0): use RETURNING with `query` there
        return cur.lastrowid if self.dialect == "sqlite" else None


def _jsonb(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(json_safe(value))


def classify(exc: BaseException) -> StepError | None:
    """A driver error as a StepError (locks, timeouts and lost connections are retryable), or None."""
    if isinstance(exc, sqlite3.Error):
        return _classify_sqlite(exc)
    try:
        import psycopg
    except ImportError:
        return None
    if isinstance(exc, psycopg.Error):
        return _classify_psycopg(exc, psycopg)
    return None


def _classify_sqlite(exc: sqlite3.Error) -> StepError:
    message = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        return StepError("Database.Constraint", message, retryable=False)
    if isinstance(exc, sqlite3.OperationalError):
        lowered = message.lower()
        if "locked" in lowered or "busy" in lowered:
            return StepError("Database.Locked", message, retryable=True)
        if "unable to open" in lowered or "disk i/o" in lowered:
            return StepError("Database.Connection", message, retryable=True)
    return StepError("Database.SqlError", message, retryable=False)


def _classify_psycopg(exc: Any, psycopg: Any) -> StepError:
    message = str(exc).strip()
    state = getattr(exc, "sqlstate", None) or ""
    if isinstance(exc, psycopg.IntegrityError) or state.startswith("23"):
        return StepError("Database.Constraint", message, retryable=False)
    if state == "57014":  # query_canceled: our statement_timeout
        return StepError("Database.Timeout", message, retryable=True)
    if state == "55P03":  # lock_not_available
        return StepError("Database.Locked", message, retryable=True)
    if state.startswith("40"):  # serialization failure, deadlock: the transaction may succeed again
        return StepError("Database.Conflict", message, retryable=True)
    if state.startswith(("08", "53", "57P")) or (isinstance(exc, psycopg.OperationalError) and not state):
        # connection exceptions, insufficient resources, admin shutdown; or no server answer at all
        return StepError("Database.Connection", message, retryable=True)
    return StepError("Database.SqlError", message, retryable=False)
