"""The step tests talk to real servers on 127.0.0.1 (HTTP, SMTP, PostgreSQL, a fake LLM), as a single-user
run may. The server default (non-public addresses refused) is what executors built with explicit
``Settings`` get, and is tested in test_egress_http.py and tests/security/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.settings import get_settings
from orchestrator.steps import egress


@pytest.fixture(autouse=True)
def egress_allows_this_machine() -> Iterator[None]:
    # Given executors built without settings: they follow the process egress settings, here the single-user ones
    egress.use_settings(get_settings().model_copy(update={"egress_allow_private": True}))
    try:
        yield
    finally:
        egress.use_settings(None)
