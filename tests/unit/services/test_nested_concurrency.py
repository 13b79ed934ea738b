"""A loop's iterations run on threads of the server: without max_concurrency at most 16 at once, and never
more than 64, whatever the step asks (3,000 items must not mean 3,000 threads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from orchestrator.adapters.local.memory import MemoryBlobs, MemoryStepResultStore
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.services.nested_steps import DEFAULT_CONCURRENCY, MAX_CONCURRENCY
from orchestrator.services.step_runner import StepRunnerPorts, StepRunRequest, run_step
from orchestrator.services.workflow_plan import execution_context
from orchestrator.steps import registry
from orchestrator.steps.base import StepConfig, StepContext, StepResult


class CountingExecutor:
    """Sleeps a little and records how many of its calls overlapped."""

    type_name: ClassVar[str] = "test_overlap"
    config_model: ClassVar[type[BaseModel]] = StepConfig
    lock = threading.Lock()
    running = 0
    most = 0

    def execute(self, config: StepConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        with self.lock:
            CountingExecutor.running += 1
            CountingExecutor.most = max(CountingExecutor.most, CountingExecutor.running)
        time.sleep(0.02)
        with self.lock:
            CountingExecutor.running -= 1
        return StepResult(output={})


@pytest.fixture(autouse=True)
def overlap_executor() -> Iterator[None]:
    CountingExecutor.most = 0
    registry.register(CountingExecutor())
    yield
    registry._registered.pop("test_overlap", None)
    registry.known_types.cache_clear()


def run_loop(config: dict[str, Any], items: int) -> str:
    """Runs a one-step workflow, the loop ``fan`` with ``config``, over ``items`` items; its outcome's status."""
    definition = WorkflowDefinition.model_validate({"name": "wide", "steps": [{"id": "fan", "type": "loop",
                                                                                "config": config}]})
    ports = StepRunnerPorts(MemoryStepResultStore(), MemoryBlobs(), None)
    ports.results.put("e", "$execution", execution_context(definition, {"items": list(range(items))}))
    return run_step(StepRunRequest.model_validate({"execution": {"id": "e"}, "step": {"id": "fan"}}), ports).status


@pytest.mark.parametrize(("asked", "most"), [(None, DEFAULT_CONCURRENCY), (1000, MAX_CONCURRENCY), (4, 4)])
def test_loop_iterations_at_once_are_bounded(asked: int | None, most: int):
    # Given a loop over 200 items, with or without its own max_concurrency
    config: dict[str, Any] = {"items": "{{input.items}}", "steps": [{"id": "each", "type": "test_overlap"}]}
    if asked is not None:
        config["max_concurrency"] = asked
    # When it runs / Then it succeeded, never with more iterations at once than the bound
    assert run_loop(config, items=200) == "succeeded"
    assert 1 < CountingExecutor.most <= most


def test_a_loop_in_a_loop_runs_its_items_one_at_a_time():
    # Given a loop of 8 (8 at once) whose each item is a loop of 8 (asking for 8 at once too)
    inner = {"items": "{{input.items}}", "max_concurrency": 8, "steps": [{"id": "each", "type": "test_overlap"}]}
    outer = {"items": "{{input.items}}", "max_concurrency": 8, "steps": [{"id": "inner", "type": "loop",
                                                                          "config": inner}]}
    # When it runs / Then the levels do not multiply: at most 8 at once (the outer level's), not 64
    assert run_loop(outer, items=8) == "succeeded"
    assert 1 < CountingExecutor.most <= 8
