"""One Store per backend, so that tests/contract runs every contract test against each of them.

mongomock works in one thread only: tests that need threads ask ``backend.thread_safe``. A real MongoDB
is used when MONGODB_URI is set (each test gets a fresh database, dropped afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.ports.store import Store

BACKENDS = ["memory", "sqlite", "mongomock", "mongodb"]


@dataclass
class Backend:
    name: str
    store: Store
    thread_safe: bool


def _mongo_store(database: object) -> Store:
    from orchestrator.adapters.mongo import MongoStore

    store = MongoStore(database)  # type: ignore[arg-type]
    store.ensure_indexes()
    return store


def _open_backend(name: str, tmp_path: Path) -> Iterator[Backend]:
    if name == "memory":
        store: Store = SqliteStore.in_memory()
        yield Backend(name, store, thread_safe=True)
        store.close()
    elif name == "sqlite":
        store = SqliteStore(tmp_path / "orchestrator.db")
        yield Backend(name, store, thread_safe=True)
        store.close()
    elif name == "mongomock":
        mongomock = pytest.importorskip("mongomock")
        # mongomock clients share one in-process server: a database of its own keeps each test apart.
        client = mongomock.MongoClient(tz_aware=True)
        database_name = f"orchestrator_test_{uuid.uuid4().hex[:12]}"
        yield Backend(name, _mongo_store(client.get_database(database_name)), thread_safe=False)
        client.drop_database(database_name)
        client.close()
    else:
        uri = os.environ.get("MONGODB_URI")
        if not uri:
            pytest.skip("MONGODB_URI is not set: no MongoDB server to run the contract against")
        pymongo = pytest.importorskip("pymongo")
        client = pymongo.MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000)
        database_name = f"orchestrator_test_{uuid.uuid4().hex[:12]}"
        try:
            yield Backend(name, _mongo_store(client.get_database(database_name)), thread_safe=True)
        finally:
            client.drop_database(database_name)
            client.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from _open_backend(request.param, tmp_path)


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.store
