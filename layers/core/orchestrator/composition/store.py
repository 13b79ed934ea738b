"""The one Store of the process, chosen by ``Settings.store`` (memory | sqlite | mongo) and cached.

Cached per configuration so that every service in the process shares one set of connections (one
SQLite connection per thread, one MongoClient pool), and a Lambda's warm starts reuse them.

The MongoDB URI holds a password. In the cloud it comes from a secret (``ORCHESTRATOR_MONGODB_URI_SECRET_ID``,
read once when the store opens; see ``composition/config_secrets.py``); neither the cache key nor a log line
nor an error message holds it. A rotated URI reaches new containers (or this one after ``close_stores``):
the open MongoClient keeps its connections.
"""

from __future__ import annotations

import hashlib
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
        if settings.mongodb_uri_secret_id:  # the secret's id, not its value
            return ("mongo", "secret", settings.mongodb_uri_secret_id)
        return ("mongo", "uri-sha256", hashlib.sha256((settings.mongodb_uri or "").encode("utf-8")).hexdigest())
    return ("memory",)


def _open_store(settings: Settings) -> Store:
    # Adapters are imported here, not at module level: a Lambda without pymongo must not need it to
    # import this module, and the local engine never loads pymongo at all.
    if settings.store == "sqlite":
        from orchestrator.adapters.sqlite import SqliteStore

        return SqliteStore(settings.home.expanduser() / SQLITE_FILE_NAME)
    if settings.store == "mongo":
        from orchestrator.composition.config_secrets import MONGODB_URI_VARIABLE, mongodb_uri

        uri = mongodb_uri(settings)  # from the secret, if one is named (ConfigSecretError names it)
        if not uri:
            raise ValueError("ORCHESTRATOR_STORE=mongo needs ORCHESTRATOR_MONGODB_URI_SECRET_ID (in the cloud) "
                             "or ORCHESTRATOR_MONGODB_URI")
        from orchestrator.adapters.mongo import MongoStore

        try:
            mongo_store = MongoStore.from_uri(uri)
        except Exception as exc:  # pymongo parses the URI here, and its messages may quote parts of it
            from orchestrator.masking import get_masker

            source = MONGODB_URI_VARIABLE if settings.mongodb_uri_secret_id else "ORCHESTRATOR_MONGODB_URI"
            raise ValueError(f"the MongoDB URI of {source} is not usable: "
                             f"{type(exc).__name__}: {get_masker().mask(str(exc))}") from None
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
