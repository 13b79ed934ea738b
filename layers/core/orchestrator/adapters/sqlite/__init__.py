"""SQLite adapter: the store of the local engine (std-lib sqlite3, WAL, safe across processes)."""

from orchestrator.adapters.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
