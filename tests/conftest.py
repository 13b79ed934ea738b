"""Fixtures shared by every suite. Helpers live in tests/support/ (importable as ``support``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Lambda handlers run in-process in tests: their metrics and traces have nowhere to go
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

from support.local_http import LocalHttpServer


@pytest.fixture
def local_http() -> Iterator[LocalHttpServer]:
    """A real HTTP server on 127.0.0.1 (random port), stopped after the test."""
    server = LocalHttpServer().start()
    try:
        yield server
    finally:
        server.stop()
