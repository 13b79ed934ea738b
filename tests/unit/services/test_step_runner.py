"""The StepRunner use case on in-memory adapters, with executors registered for the test."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from orchestrator.adapters.local.memory import MemoryBlobs, MemoryStepResultStore
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.services.step_records import StepRecords
from orchestrator.services.step_runner import StepRunnerPorts, StepRunRequest, run_step
from orchestrator.services.workflow_plan import execution_context
from orchestrator.steps import registry
from orchestrator.steps.base import StepConfig, StepContext, StepError, StepResult


class EchoConfig(StepConfig):
    value: Any = None
    fail_with: str | None = None
    retryable: bool = True
    size: int = 0


class EchoExecutor:
    """Returns its config value (and its inputs); fails as told; counts its calls."""

    type_name: ClassVar[str] = "test_echo"
    config_model: ClassVar[type[BaseModel]] = EchoConfig
    calls: ClassVar[list[str]] = []

    def execute(self, config: EchoConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        self.calls.append(ctx.step_id)
        ctx.log(f"echo {config.value}")
        if config.fail_with:
            raise StepError(config.fail_with, f"told to fail with {config.value}", retryable=config.retryable)
        output = {"value": config.value, "inputs": inputs}
        if config.size:
            output["padding"] = "x" * config.size
        return StepResult(output=output)


class DictSecrets:
    """A SecretResolver whose every owner has the same secrets; remembers whom it was asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.owners: list[str | None] = []

    def for_owner(self, owner_id: str | None) -> DictSecrets:
        self.owners.append(owner_id)
        return self

    def get(self, name: str) -> str:
        return self.values[name]


@pytest.fixture(autouse=True)
def echo_executor():
    EchoExecutor.calls = []
    registry.register(EchoExecutor())
    yield
    registry._registered.pop("test_echo", None)
    registry.known_types.cache_clear()


@pytest.fixture
def ports() -> StepRunnerPorts:
    return StepRunnerPorts(MemoryStepResultStore(), MemoryBlobs(), DictSecrets({"token": "s3cr3t-value"}),
                           inline_limit=1024)


def prepare(ports: StepRunnerPorts, definition: dict, execution_input: Any = None, execution_id: str = "e1") -> None:
    model = WorkflowDefinition.model_validate(definition)
    ports.results.put(execution_id, "$execution", execution_context(model, execution_input or {}))


def run(ports: StepRunnerPorts, step_id: str, attempt: int = 1, execution_id: str = "e1"):
    return run_step(StepRunRequest.model_validate(
        {"execution": {"id": execution_id}, "step": {"id": step_id}, "attempt": attempt}), ports)


def record(ports: StepRunnerPorts, key: str) -> dict:
    return StepRecords(ports.results, ports.blobs, "e1", ports.inline_limit).get(key)


def test_outputs_flow_to_downstream_templates_keeping_their_type(ports) -> None:
    # Given a step whose input maps a number from an upstream output
    prepare(ports, {"name": "w", "steps": [
        {"id": "a", "type": "test_echo", "config": {"value": 41}},
        {"id": "b", "type": "test_echo", "depends_on": ["a"], "config": {"value": "{{steps.a.output.value}}"},
         "input_mapping": {"n": "{{steps.a.output.value}}", "text": "got {{steps.a.output.value}}"}},
    ]})
    # When both run
    assert run(ports, "a").status == "succeeded"
    assert run(ports, "b").status == "succeeded"
    # Then the whole-value template kept the number and the embedded one rendered text
    assert record(ports, "b")["output"] == {"value": 41, "inputs": {"n": 41, "text": "got 41"}}


def test_a_retryable_failure_asks_the_state_machine_to_wait_with_backoff(ports) -> None:
    prepare(ports, {"name": "w", "steps": [{
        "id": "flaky", "type": "test_echo", "config": {"fail_with": "Http.503"},
        "retry": {"max_attempts": 3, "initial_delay": "2s", "backoff_factor": 3},
    }]})
    first = run(ports, "flaky", attempt=1)
    second = run(ports, "flaky", attempt=2)
    third = run(ports, "flaky", attempt=3)
    assert (first.status, first.wait_seconds, first.next_attempt) == ("retry", 2, 2)
    assert (second.status, second.wait_seconds) == ("retry", 6)
    assert (third.status, third.error) == ("failed", "Http.503")


def test_a_non_retryable_error_fails_at_once_and_continue_lets_downstream_run(ports) -> None:
    prepare(ports, {"name": "w", "steps": [
        {"id": "bad", "type": "test_echo", "on_error": "continue", "retry": {"max_attempts": 5},
         "config": {"fail_with": "Http.404", "retryable": False}},
        {"id": "next", "type": "test_echo", "depends_on": ["bad"], "config": {"value": "{{steps.bad.status}}"}},
    ]})
    outcome = run(ports, "bad")
    assert outcome.status == "failed" and outcome.continue_ is True
    assert run(ports, "next").status == "succeeded"
    assert record(ports, "next")["output"]["value"] == "failed"


def test_when_false_skips_and_skips_propagate_to_steps_with_only_skipped_upstreams(ports) -> None:
    prepare(ports, {"name": "w", "steps": [
        {"id": "check", "type": "condition", "config": {"expression": "input.big"}},
        {"id": "big", "type": "test_echo", "depends_on": ["check"], "when": "steps.check.output.result"},
        {"id": "after_big", "type": "test_echo", "depends_on": ["big"]},
        {"id": "small", "type": "test_echo", "depends_on": ["check"], "when": "not steps.check.output.result"},
        {"id": "join", "type": "test_echo", "depends_on": ["after_big", "small"]},
    ]}, {"big": False})
    statuses = {step: run(ports, step).status for step in ("check", "big", "after_big", "small", "join")}
    assert statuses == {"check": "succeeded", "big": "skipped", "after_big": "skipped", "small": "succeeded",
                        "join": "succeeded"}
    assert EchoExecutor.calls == ["small", "join"]


def test_a_step_that_already_succeeded_is_not_run_again(ports) -> None:
    prepare(ports, {"name": "w", "steps": [{"id": "once", "type": "test_echo", "config": {"value": 1}}]})
    run(ports, "once")
    again = run(ports, "once")
    assert again.status == "succeeded"
    assert EchoExecutor.calls == ["once"]


def test_a_replayed_step_reports_its_stored_result_again(ports) -> None:
    # Given a step that succeeded while nobody observed it (the process died before reporting it)
    prepare(ports, {"name": "w", "steps": [{"id": "once", "type": "test_echo", "config": {"value": 1}}]})
    run(ports, "once")
    reported: list[tuple[str, str, str]] = []

    class Observer:
        def step_recorded(self, execution_id: str, step_key: str, stored: dict) -> None:
            reported.append((execution_id, step_key, stored["status"]))

    ports.observer = Observer()
    # When the state machine delivers the step again (a replay after the restart)
    again = run(ports, "once")
    # Then it is not run again, and its stored result is reported to the control plane
    assert again.status == "succeeded" and EchoExecutor.calls == ["once"]
    assert reported == [("e1", "once", "succeeded")]


def test_secrets_reach_the_executor_but_never_the_stored_record_or_logs(ports) -> None:
    prepare(ports, {"name": "w", "steps": [{
        "id": "leaky", "type": "test_echo", "config": {"value": "Bearer {{secrets.token}}"},
    }]})
    run(ports, "leaky")
    stored = record(ports, "leaky")
    assert "s3cr3t-value" not in repr(stored)
    assert stored["output"]["value"] == "Bearer ***"
    assert stored["logs"] == ["echo Bearer ***"]


def test_secrets_are_masked_in_errors_too(ports) -> None:
    prepare(ports, {"name": "w", "steps": [{
        "id": "leaky", "type": "test_echo", "config": {"value": "{{secrets.token}}", "fail_with": "X.Y",
                                                       "retryable": False},
    }]})
    outcome = run(ports, "leaky")
    assert outcome.status == "failed"
    assert "s3cr3t-value" not in (outcome.cause or "")
    assert "s3cr3t-value" not in repr(record(ports, "leaky"))


def test_large_outputs_go_to_blobs_and_resolve_transparently(ports) -> None:
    # Given a step whose output is above the inline limit (1 KiB here)
    prepare(ports, {"name": "w", "steps": [
        {"id": "big", "type": "test_echo", "config": {"value": 1, "size": 5000}},
        {"id": "reader", "type": "test_echo", "depends_on": ["big"],
         "input_mapping": {"length": "{{steps.big.output.padding}}"}},
    ]})
    run(ports, "big")
    # Then the store holds a reference, not the output
    raw = ports.results.get("e1", "big")
    assert "output" not in raw and raw["output_ref"].startswith("memory://")
    # And downstream templates still read it
    run(ports, "reader")
    assert record(ports, "reader")["output"]["inputs"]["length"] == "x" * 5000


def test_loop_retries_only_the_items_that_failed(ports, tmp_path) -> None:
    # Given a loop whose second item fails once with a retryable error
    prepare(ports, {"name": "w", "steps": [{
        "id": "each", "type": "loop",
        "config": {"items": "{{input.items}}", "steps": [{
            "id": "work", "type": "test_echo", "retry": {"max_attempts": 2, "initial_delay": "1s"},
            "config": {"value": "{{loop.item}}"},
        }]},
    }]}, {"items": ["a", "b", "c"]})
    registry.register(_FailOnce("each[1].work"))
    # When the loop runs twice (the state machine waits in between)
    first = run(ports, "each", attempt=1)
    second = run(ports, "each", attempt=2)
    # Then the first attempt asked for a retry, the second finished, and only item 1 ran twice
    assert (first.status, first.wait_seconds) == ("retry", 1)
    assert second.status == "succeeded"
    assert sorted(EchoExecutor.calls) == ["each[0].work", "each[1].work", "each[1].work", "each[2].work"]
    assert [item["work"]["value"] for item in record(ports, "each")["output"]] == ["a", "b", "c"]


class _FailOnce(EchoExecutor):
    def __init__(self, key: str) -> None:
        self.key = key
        self.failed = False

    def execute(self, config: EchoConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        if ctx.step_id == self.key and not self.failed:
            self.failed = True
            self.calls.append(ctx.step_id)
            raise StepError("Http.503", "try later", retryable=True)
        return super().execute(config, inputs, ctx)


def test_invalid_rendered_config_is_a_non_retryable_error_naming_the_field(ports) -> None:
    prepare(ports, {"name": "w", "steps": [
        {"id": "a", "type": "test_echo", "config": {"value": 1}},
        {"id": "b", "type": "test_echo", "depends_on": ["a"], "config": {"retryable": "{{steps.a.output}}"}},
    ]})
    run(ports, "a")
    outcome = run(ports, "b")
    assert outcome.status == "failed"
    assert outcome.error == "Step.InvalidConfig"
    assert "config.retryable" in outcome.cause
