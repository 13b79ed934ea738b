"""moto's mock_aws for the control-plane adapters: fake credentials, one region, no network."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

REGION = "us-east-1"  # the region these tests run in


def _mocked(monkeypatch: pytest.MonkeyPatch, config: dict[str, Any] | None = None) -> Iterator[None]:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws(config=config):  # type: ignore[arg-type]
        yield


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every AWS call inside the test goes to moto."""
    yield from _mocked(monkeypatch)


@pytest.fixture
def aws_executing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Like ``aws``, and moto also runs the state machines it starts."""
    yield from _mocked(monkeypatch, {"stepfunctions": {"execute_state_machine": True}})
