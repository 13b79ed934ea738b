"""The one Store of the process, chosen by ``Settings.store`` (memory | sqlite | mongo) and cached.

Cached per configuration so that every service in the process shares one set of connections (one
SQLite connection per thread, one MongoClient pool), and a Lambda's warm starts reuse them.
"""

from __future__ import annotations

import threading

from orchestrator.ports.store import Store
from orchestrator.settings import Settings, get_settings

SQLITE_FILE_NAME = "orchestrator.db"

_stores: dict[tuple[str, ...], Store] = {}
_stores_lock = threading.Lock()


def _configuration_key(settings: Settings) -> tuple[str, ...]:
    if settings.store == "sqlite":
        return ("sqlite", str(settings.home.expanduser().resolve() / SQLITE_FILE_NAME))
    if settings.store == "mongo":
        return ("mongo", settings.mongodb_uri or "")
    return ("memory",)


def _open_store(settings: Settings) -> Store:
    # Adapters are imported here, not at module level: a Lambda without pymongo must not need it to
    # import this module, and the local engine never loads pymongo at all.
    if settings.store == "sqlite":
        from orchestrator.adapters.sqlite import SqliteStore

        return SqliteStore(settings.home.expanduser() / SQLITE_FILE_NAME)
    if settings.store == "mongo":
        if not settings.mongodb_uri:
            raise ValueError("ORCHESTRATOR_STORE=mongo needs ORCHESTRATOR_MONGODB_URI")
        from orchestrator.adapters.mongo import MongoStore

        mongo_store = MongoStore.from_uri(settings.mongodb_uri)
        mongo_store.ensure_indexes()
        return mongo_store
    from orchestrator.adapters.sqlite import SqliteStore

    return SqliteStore.in_memory()


def get_store(settings: Settings | None = None) -> Store:
    settings = settings or get_settings()
    key = _configuration_key(settings)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = _open_store(settings)
        return store


def close_stores() -> None:
    """Close and forget every cached store (process shutdown; tests that change settings)."""
    with _stores_lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        store.close()
