"""get_store: one cached Store per configuration, the adapter chosen by Settings.store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.adapters.mongo import MongoStore
from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.composition import store as store_factory
from orchestrator.settings import Settings


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    store_factory.close_stores()
    yield
    store_factory.close_stores()


def test_the_sqlite_store_lives_in_the_home_directory_and_is_shared(tmp_path: Path) -> None:
    # Given settings that choose sqlite under a home that does not exist yet
    settings = Settings(store="sqlite", home=tmp_path / "home")
    # When the store is asked for twice
    store = store_factory.get_store(settings)
    # Then it is one SqliteStore on home/orchestrator.db
    assert isinstance(store, SqliteStore)
    assert Path(store.path) == tmp_path / "home" / "orchestrator.db"
    assert (tmp_path / "home" / "orchestrator.db").exists()
    assert store_factory.get_store(Settings(store="sqlite", home=tmp_path / "home")) is store


def test_the_memory_store_is_an_in_memory_database() -> None:
    store = store_factory.get_store(Settings(store="memory"))
    assert isinstance(store, SqliteStore) and store.path == ":memory:"
    assert store_factory.get_store(Settings(store="memory")) is store


def test_the_mongo_store_needs_a_uri() -> None:
    with pytest.raises(ValueError, match="MONGODB_URI"):
        store_factory.get_store(Settings(store="mongo", mongodb_uri=None))


def test_the_mongo_store_creates_its_indexes_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    mongomock = pytest.importorskip("mongomock")
    database = mongomock.MongoClient(tz_aware=True).get_database("factory_test")
    monkeypatch.setattr(
        MongoStore, "from_uri", classmethod(lambda cls, uri, database_name=None: cls(database))
    )
    store = store_factory.get_store(Settings(store="mongo", mongodb_uri="mongodb://example/orchestrator"))
    assert isinstance(store, MongoStore)
    assert any(
        index.get("unique") for index in database.get_collection("executions").index_information().values()
    )
    database.client.drop_database("factory_test")


def test_closing_forgets_the_cached_stores(tmp_path: Path) -> None:
    first = store_factory.get_store(Settings(store="sqlite", home=tmp_path))
    store_factory.close_stores()
    assert store_factory.get_store(Settings(store="sqlite", home=tmp_path)) is not first


@pytest.mark.parametrize("store_class", [SqliteStore, MongoStore])
def test_no_two_parts_of_a_store_define_the_same_method(store_class: type) -> None:
    # The stores are composed of one class per concern; a name defined twice would silently make one
    # concern call the other's helper (the MRO picks the first).
    seen: dict[str, str] = {}
    for part in store_class.__mro__[1:]:
        if part is object or not part.__module__.startswith("orchestrator.adapters"):
            continue
        for name, value in vars(part).items():
            if callable(value) and not name.startswith("__"):
                assert name not in seen, f"{name} is defined by both {seen[name]} and {part.__name__}"
                seen[name] = part.__name__
    assert {"create_workflow", "transition", "claim_next_queued", "append_logs", "stats"} <= set(seen)
