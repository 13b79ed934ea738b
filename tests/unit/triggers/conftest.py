"""Each test gets a TriggerService on a fresh in-memory SQLite store, with the clock at T0."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from support.triggers import SettableClock, TriggerWorld, build_world

from orchestrator.adapters.sqlite import SqliteStore

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


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
