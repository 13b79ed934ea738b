"""Fixtures shared by every suite. Helpers live in tests/support/ (importable as ``support``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.local_http import LocalHttpServer


@pytest.fixture
def local_http() -> Iterator[LocalHttpServer]:
    """A real HTTP server on 127.0.0.1 (random port), stopped after the test."""
    server = LocalHttpServer().start()
    try:
        yield server
    finally:
        server.stop()
