"""Fixtures of the API tests; the harness they use is ``api_harness`` (importable from the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_harness import Api, make_api

from orchestrator.adapters.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "api.db")
    yield store
    store.close()


@pytest.fixture
def api(store: SqliteStore) -> Iterator[Api]:
    made = make_api(store)
    with made.client:
        yield made
