"""Each test gets a TriggerService on a fresh in-memory SQLite store, with the clock at T0."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.adapters.sqlite import SqliteStore
from support.triggers import T0, SettableClock, TriggerWorld, build_world


@pytest.fixture
def store() -> Iterator[SqliteStore]:
    store = SqliteStore.in_memory()
    yield store
    store.close()


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0)


@pytest.fixture
def world(store: SqliteStore, clock: SettableClock) -> TriggerWorld:
    return build_world(store, clock)
