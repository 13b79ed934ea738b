"""Named database connections for the ``database`` step, and the pooled clients behind them.

A step names a connection (``connection: main_db``); its URL is configuration, never part of the
workflow, because it carries credentials:

* environment variable ``ORCHESTRATOR_DB_<NAME>`` (the name upper-cased, other characters than letters
  and digits as ``_``): ``ORCHESTRATOR_DB_MAIN_DB=postgresql://app:pw@db.internal:5432/app``;
* else the secret of that same name (``ORCHESTRATOR_DB_MAIN_DB``), through the execution's secrets
  backend (SSM Parameter Store / Secrets Manager on AWS).

URL forms:

* ``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` (SQLAlchemy's convention: the path
  is what follows the third slash), ``sqlite:///:memory:``;
* ``postgresql://user:password@host:5432/dbname?sslmode=require`` (also ``postgres://``), served by
  psycopg 3: ``pip install 'orchestrator[postgres]'``;
* ``mongodb://...`` / ``mongodb+srv://...`` served by pymongo; the database is the URL's path or the
  step's ``database``.

Clients are cached per URL for the life of the process (a warm Lambda keeps them): SQL connections in a
small pool, one ``MongoClient`` (itself a thread-safe pool) per URL.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from orchestrator.steps.base import StepError

ENV_PREFIX = "ORCHESTRATOR_DB_"
CONNECTION_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
#: idle SQL connections kept per URL; more may be open at once, the surplus is closed when returned
MAX_IDLE_PER_URL = 4

Kind = Literal["sqlite", "postgresql", "mongodb"]


def env_name(connection: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", connection).upper()


def resolve_url(connection: str, secret: Callable[[str], str | None] | None = None) -> str:
    """The URL of ``connection``: the environment variable first, then the secret of the same name."""
    name = env_name(connection)
    url = os.environ.get(name)
    if not url and secret is not None:
        url = secret(name)
    if not url:
        raise StepError(
            "Database.UnknownConnection",
            f"connection {connection!r} is not configured: set the environment variable or secret {name} "
            "to its URL (sqlite:///..., postgresql://..., mongodb://...)",
            retryable=False,
        )
    return url


def url_password(url: str) -> str | None:
    """The password in ``url``, so that error texts can be scrubbed of it wherever it appears."""
    try:
        return urllib.parse.urlsplit(url).password
    except ValueError:
        return None


def kind_of(url: str) -> Kind:
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+"):
        return "postgresql"
    if scheme in ("mongodb", "mongodb+srv"):
        return "mongodb"
    raise StepError("Database.UnsupportedUrl", f"unsupported database URL scheme {scheme!r}: use sqlite, "
                    "postgresql or mongodb", retryable=False)


def sqlite_path(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise StepError("Database.UnsupportedUrl", "a SQLite URL is sqlite:///relative.db or sqlite:////abs.db",
                        retryable=False)
    path = url[len("sqlite:///"):].partition("?")[0]
    if not path:
        raise StepError("Database.UnsupportedUrl", "the SQLite URL names no file", retryable=False)
    return path


# -- SQL connection pools -------------------------------------------------------------------------


class ConnectionPool:
    """DB-API connections for one URL. A connection serves one operation at a time, so a SQLite
    connection opened with ``check_same_thread=False`` is safe to hand from thread to thread."""

    def __init__(self, connect: Callable[[], Any], max_idle: int = MAX_IDLE_PER_URL) -> None:
        self._connect = connect
        self._max_idle = max_idle
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        conn = None
        with self._lock:
            while self._idle and conn is None:
                conn = self._idle.pop()
                if getattr(conn, "closed", False):  # psycopg: the server or network dropped it while idle
                    conn = None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        except BaseException:
            # after a failure the connection's state is unknown (aborted transaction, broken socket)
            _close_quietly(conn)
            raise
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        _close_quietly(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    # closing a broken connection may itself fail; nothing is left to release then
    with contextlib.suppress(Exception):
        conn.close()


def _connect_sqlite(url: str) -> sqlite3.Connection:
    conn = sqlite3.connect(sqlite_path(url), check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def _connect_postgresql(url: str, connect_timeout: float) -> Any:
    try:
        import psycopg
        from psycopg.rows import dict_row
    except ImportError:
        raise StepError("Database.DriverMissing", "a postgresql:// connection needs psycopg: "
                        "pip install 'orchestrator[postgres]'", retryable=False) from None
    if url.startswith("postgresql+"):  # SQLAlchemy-style driver suffix, e.g. postgresql+psycopg://
        url = "postgresql" + url[url.index(":"):]
    return psycopg.connect(url, connect_timeout=max(1, round(connect_timeout)), row_factory=dict_row)


_pools: dict[str, ConnectionPool] = {}
_pools_lock = threading.Lock()


def sql_pool(url: str, connect_timeout: float) -> ConnectionPool:
    with _pools_lock:
        pool = _pools.get(url)
        if pool is None:
            if kind_of(url) == "sqlite":
                pool = ConnectionPool(lambda: _connect_sqlite(url))
            else:
                pool = ConnectionPool(lambda: _connect_postgresql(url, connect_timeout))
            _pools[url] = pool
        return pool


# -- MongoDB clients ------------------------------------------------------------------------------


def _default_mongo_client(url: str, timeout: float) -> Any:
    import pymongo

    ms = int(timeout * 1000)
    return pymongo.MongoClient(url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, tz_aware=True)


#: builds a MongoClient from (url, timeout seconds); tests replace it with mongomock's client
mongo_client_factory: Callable[[str, float], Any] = _default_mongo_client

_mongo_clients: dict[str, Any] = {}


def mongo_client(url: str, timeout: float) -> Any:
    with _pools_lock:
        client = _mongo_clients.get(url)
        if client is None:
            client = mongo_client_factory(url, timeout)
            _mongo_clients[url] = client
        return client


def reset() -> None:
    """Close and forget every cached client (tests; a process that rotates credentials)."""
    with _pools_lock:
        pools, clients = list(_pools.values()), list(_mongo_clients.values())
        _pools.clear()
        _mongo_clients.clear()
    for pool in pools:
        pool.close()
    for client in clients:
        _close_quietly(client)
