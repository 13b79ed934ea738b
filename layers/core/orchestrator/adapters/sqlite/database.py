"""SQLite connections and transactions, safe across threads and processes.

A file database gets one connection per thread and per process (a connection is never shared across a
fork). WAL lets readers run beside the one writer; every write runs in ``BEGIN IMMEDIATE``, which takes
the write lock at the start, so a read-then-write inside it (claims, compare-and-set, counters) cannot
interleave with another process's; ``busy_timeout`` makes the others wait for the lock instead of failing.

An in-memory database exists only inside its connection, so there is one connection, shared by all
threads under a lock.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from orchestrator.adapters.sqlite.schema import migrate

IN_MEMORY = ":memory:"
_FIRST_RETRY_SECONDS = 0.0001
_LONGEST_RETRY_SECONDS = 0.001


class _Connection(sqlite3.Connection):
    """A connection that can be weakly referenced (sqlite3.Connection itself cannot): the registry of
    open connections must not keep a finished thread's connection alive. ``in_use`` is held while a
    statement or transaction runs on it, so that close() never closes it under one (that crashes the
    sqlite3 module); only its own thread takes it otherwise, so it costs no contention."""

    in_use: threading.RLock


class Database:
    def __init__(self, path: Path | str, *, busy_timeout_seconds: float = 10.0) -> None:
        self.path = str(path)
        self._busy_timeout_ms = int(busy_timeout_seconds * 1000)
        self._local = threading.local()
        self._open_connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._registry_lock = threading.Lock()
        self._shared: _Connection | None = None
        # Serialises use of the shared in-memory connection; file databases need no lock of ours for reads.
        self._use_lock: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
        # Writers of this process queue here rather than on SQLite's lock: a connection that finds the
        # write lock taken sleeps in SQLite's busy handler (1, 2, 5 ... 100 ms steps) and wakes late, so
        # under many writer threads most of a write's latency was sleep. Other processes still meet
        # busy_timeout.
        self._write_lock: contextlib.AbstractContextManager[object] = threading.RLock()
        if self.path == IN_MEMORY:
            self._shared = self._open()
            self._use_lock = threading.RLock()
        else:
            # 0700: the store holds every owner's records; other users of the machine have no business there
            Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.connection()  # creates the file and brings its schema up to date now, not on first use

    def _open(self) -> _Connection:
        # isolation_level=None: no implicit transactions; this class issues BEGIN/COMMIT itself.
        # check_same_thread=False only so that close() may close every thread's connection.
        connection = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=self._busy_timeout_ms / 1000,
            factory=_Connection,
        )
        connection.in_use = threading.RLock()
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        connection.execute("PRAGMA foreign_keys = ON")
        if self.path != IN_MEMORY:
            connection.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a power cut may lose the last commits, never corrupt the database.
        connection.execute("PRAGMA synchronous = NORMAL")
        migrate(connection)
        with self._registry_lock:
            self._open_connections.add(connection)
        return connection

    def connection(self) -> _Connection:
        if self._shared is not None:
            return self._shared
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.connection = self._open()
            local.pid = os.getpid()
        return local.connection

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """One statement, atomic by itself. Never run a query on ``connection()`` directly: on the shared
        in-memory connection it could read another thread's uncommitted transaction."""
        with self._use_lock, self._connection_in_use() as connection:
            return connection.execute(sql, params).fetchall()

    def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self.fetch_all(sql, params)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several statements (WAL readers see one committed state)."""
        with self._use_lock, self._connection_in_use() as connection:
            connection.execute("BEGIN")
            try:
                yield connection
            finally:
                connection.execute("COMMIT")

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: any exception rolls every statement of the block back."""
        with self._write_lock, self._use_lock, self._connection_in_use() as connection:
            self._begin_immediate(connection)
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _begin_immediate(self, connection: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, waiting for another process's write in short steps.

        SQLite's own busy handler sleeps 1, 2, 5, 10 ... ms between attempts; another process's write
        transactions last a fraction of a millisecond, so those sleeps were most of the wait (`orchestrator
        serve`'s API and engine processes write to one file). Here the attempts come every 0.1 ms at
        first, backing off to 1 ms, for as long as busy_timeout allows."""
        if self._shared is not None:
            connection.execute("BEGIN IMMEDIATE")
            return
        connection.execute("PRAGMA busy_timeout = 0")
        try:
            deadline = time.monotonic() + self._busy_timeout_ms / 1000
            delay = _FIRST_RETRY_SECONDS
            while True:
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() + delay > deadline:
                        raise
                time.sleep(delay)
                delay = min(delay * 2, _LONGEST_RETRY_SECONDS)
        finally:
            connection.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")

    @contextlib.contextmanager
    def _connection_in_use(self) -> Iterator[_Connection]:
        connection = self.connection()
        with connection.in_use:
            yield connection

    def close(self, timeout: float = 10.0) -> None:
        """Closes every thread's connection, each once the statement running on it has finished (up to
        ``timeout`` for each): closing a connection under a running statement crashes the sqlite3 module."""
        with self._registry_lock:
            connections, self._open_connections = list(self._open_connections), weakref.WeakSet()
        for connection in connections:
            if not connection.in_use.acquire(timeout=timeout):
                raise TimeoutError(f"a statement on {self.path} still runs after {timeout} s")
            try:
                with contextlib.suppress(sqlite3.ProgrammingError):
                    connection.close()
            finally:
                connection.in_use.release()
        self._local = threading.local()
