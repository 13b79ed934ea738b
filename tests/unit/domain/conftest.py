"""Fixtures of the workflow-language tests: executors of known config models, isolated from the real ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import pytest
from pydantic import Field

from orchestrator.domain.durations import Duration
from orchestrator.steps import registry
from orchestrator.steps.base import StepConfig, StepContext, StepResult


class FakeHttpConfig(StepConfig):
    method: Literal["GET", "POST"] = "GET"
    url: str
    retries: int = Field(0, ge=0)
    timeout: Duration = 30.0
    headers: dict[str, str] = Field(default_factory=dict)


class FakeHttpExecutor:
    type_name: ClassVar[str] = "fake_http"
    config_model: ClassVar[type[FakeHttpConfig]] = FakeHttpConfig

    def execute(self, config: FakeHttpConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        return StepResult(output={"status": 200})


class NoopConfig(StepConfig):
    message: str = ""


class NoopExecutor:
    type_name: ClassVar[str] = "noop"
    config_model: ClassVar[type[NoopConfig]] = NoopConfig

    def execute(self, config: NoopConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        return StepResult(output=inputs)


@pytest.fixture(autouse=True)
def fake_executors(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`fake_http` and `noop` step types, registered for one test and gone after it."""
    monkeypatch.setitem(registry._registered, "fake_http", FakeHttpExecutor())
    monkeypatch.setitem(registry._registered, "noop", NoopExecutor())
    registry.known_types.cache_clear()
    yield
    monkeypatch.undo()
    registry.known_types.cache_clear()


@pytest.fixture
def without_executor_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Judge only the workflow language, not the built-in executors' configs (they have their own tests)."""
    monkeypatch.setattr(registry.RegisteredStepTypes, "config_model", lambda self, step_type: None)
