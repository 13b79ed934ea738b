"""The workflow models: seed 002's formats, the step kinds, retry policies, triggers."""

from __future__ import annotations

import json

import pytest
import yaml

from orchestrator.domain.workflow import (
    ConditionStep,
    LoopStep,
    ParallelStep,
    RetryPolicy,
    ScheduleTrigger,
    TaskStep,
    WebhookTrigger,
    WorkflowDefinition,
)
from orchestrator.services.workflow_loader import load_workflow

from .builders import FIXTURES, step, workflow

pytestmark = pytest.mark.usefixtures("without_executor_configs")


def test_seed_002_yaml_example_loads():
    # Given seed 002's YAML example, as written there / When loaded
    definition = load_workflow(FIXTURES / "seed_002_data_processing.yaml")
    # Then its variables, steps, dependencies, mappings and triggers are all there
    assert definition.name == "数据处理工作流"
    assert definition.variables == {"input_file": "", "output_dir": "/tmp/output", "batch_size": 1000}
    assert [(s.id, s.type, s.depends_on) for s in definition.steps] == [
        ("validate", "script", []),
        ("process", "agent", ["validate"]),
        ("notify", "email", ["process"]),
    ]
    assert definition.step("process").input_mapping == {
        "file": "{{variables.input_file}}",
        "batch_size": "{{variables.batch_size}}",
    }
    schedule, webhook = definition.triggers
    assert isinstance(schedule, ScheduleTrigger) and schedule.config.cron == "0 2 * * *"
    assert schedule.config.timezone == "Asia/Shanghai" and schedule.is_enabled
    assert isinstance(webhook, WebhookTrigger) and webhook.config.path == "/webhook/data-process"
    assert webhook.config.method == "POST"


def test_seed_002_json_example_loads():
    # Given seed 002's JSON example / When loaded / Then secrets and step-output templates are accepted
    definition = load_workflow(FIXTURES / "seed_002_api_sync.json")
    assert definition.name == "API数据同步"
    fetch = definition.step("fetch_data")
    assert isinstance(fetch, TaskStep)
    assert fetch.config["headers"] == {"Authorization": "Bearer {{secrets.api_token}}"}
    assert definition.step("save_data").input_mapping == {"data": "{{steps.transform_data.output.result}}"}


def test_seed_002_api_request_definition_loads_with_the_requests_name():
    # Given the body of seed 002's "create workflow" request, whose definition has no name of its own
    body = json.loads((FIXTURES / "seed_002_create_request.json").read_text(encoding="utf-8"))
    # When its definition is read with the request's name / Then it is a workflow
    definition = WorkflowDefinition.model_validate({**body["definition"], "name": body["name"]})
    assert definition.version == "1.0" and definition.steps[0].id == "step1"


def test_step_options_parse_to_their_types():
    # Given a step with every option written the short way
    raw = step(
        "fetch",
        when=True,
        depends_on=[],
        retry={
            "max_attempts": 5,
            "initial_delay": "2s",
            "max_delay": "1m",
            "jitter": True,
            "retry_on": ["Http"],
        },
        timeout="1h30m",
        on_error="continue",
        priority=3,
    )
    # When parsed
    parsed = WorkflowDefinition.model_validate(workflow(raw, max_concurrency=4, version=1.1)).steps[0]
    # Then durations are seconds, jitter "full", `when: true` the expression True
    assert parsed.timeout == 5400.0 and parsed.on_error == "continue" and parsed.priority == 3
    assert parsed.when == "True"
    assert parsed.retry == RetryPolicy(
        max_attempts=5,
        initial_delay=2.0,
        max_delay=60.0,
        backoff_factor=2.0,
        jitter="full",
        retry_on=["Http"],
    )


def test_depends_on_may_name_one_step_without_a_list():
    definition = WorkflowDefinition.model_validate(workflow(step("a"), step("b", depends_on="a")))
    assert definition.steps[1].depends_on == ["a"]


def test_structural_steps_get_typed_configs_and_nest_steps():
    # Given a condition, a loop with a body and a parallel with two branches
    definition = WorkflowDefinition.model_validate(
        workflow(
            step("check", "condition", config={"expression": "input.n > 1"}),
            step(
                "each",
                "loop",
                depends_on=["check"],
                when="steps.check.output.result",
                config={
                    "items": "{{input.rows}}",
                    "item_var": "row",
                    "max_concurrency": 2,
                    "steps": [step("one")],
                },
            ),
            step("fan", "parallel", config={"branches": [[step("left")], [step("right1"), step("right2")]]}),
        )
    )
    check, each, fan = definition.steps
    # When / Then: each kind is its own class with its typed config
    assert isinstance(check, ConditionStep) and check.config.expression == "input.n > 1"
    assert isinstance(each, LoopStep) and each.config.item_var == "row" and each.config.steps[0].id == "one"
    assert isinstance(fan, ParallelStep) and [len(b) for b in fan.config.branches] == [1, 2]
    # and the workflow finds nested steps, depth first in document order
    assert [s.id for s in definition.iter_steps()] == [
        "check",
        "each",
        "one",
        "fan",
        "left",
        "right1",
        "right2",
    ]
    assert definition.step("right2").id == "right2"
    with pytest.raises(KeyError, match="no step 'nope'"):
        definition.step("nope")


def test_a_dump_is_what_the_step_runner_receives():
    # Given a parsed step / When dumped as JSON data / Then durations are seconds and defaults are explicit
    definition = WorkflowDefinition.model_validate(workflow(step("a", timeout="30s", retry={})))
    dumped = definition.model_dump(mode="json")["steps"][0]
    assert dumped["timeout"] == 30.0 and dumped["on_error"] == "fail"
    assert dumped["retry"] == {
        "max_attempts": 3, "initial_delay": 1.0, "max_delay": 300.0, "backoff_factor": 2.0, "jitter": "none", "retry_on": None,
    }  # fmt: skip
    assert WorkflowDefinition.model_validate(definition.model_dump(mode="json")) == definition


class TestRetryPolicy:
    def test_delays_grow_by_the_factor_up_to_the_maximum(self):
        # Given 1s doubling to at most 5s / When asked before attempts 2..6 / Then 1, 2, 4, 5, 5
        policy = RetryPolicy(initial_delay=1, backoff_factor=2, max_delay=5)
        assert [policy.delay_before(attempt) for attempt in range(2, 7)] == [1, 2, 4, 5, 5]

    def test_full_jitter_scales_the_delay_by_a_random_fraction(self):
        policy = RetryPolicy(initial_delay=4, jitter="full")
        assert policy.delay_before(3, rand=lambda: 0.25) == 2.0

    def test_by_default_only_retryable_errors_are_retried(self):
        policy = RetryPolicy()
        assert policy.applies_to("Http.503", retryable=True)
        assert not policy.applies_to("Http.404", retryable=False)

    def test_retry_on_names_errors_by_name_prefix_or_all(self):
        # Given retry_on naming a family and a class / When errors are checked / Then matches by name or prefix
        policy = RetryPolicy(retry_on=["Http", "TimeoutError"])
        assert policy.applies_to("Http.404", retryable=False)
        assert policy.applies_to("TimeoutError", retryable=False)
        assert not policy.applies_to("HttpX", retryable=True)
        assert RetryPolicy(retry_on=["*"]).applies_to("Anything", retryable=False)

    def test_max_delay_below_initial_delay_is_refused(self):
        with pytest.raises(ValueError, match="max_delay must not be shorter than initial_delay"):
            RetryPolicy(initial_delay="1m", max_delay="10s")


def test_every_trigger_type_parses():
    # Given one trigger of each type, as seed 002 lists them
    raw = workflow(
        step("a"),
        triggers=yaml.safe_load(
            """
            - {type: manual, name: by hand}
            - {type: schedule, config: {cron: "*/5 * * * 1-5"}}
            - {type: webhook, config: {path: /hooks/a, method: put, secret: "{{secrets.hook}}"}, is_enabled: false}
            - {type: event, config: {pattern: {source: [orders], detail: {state: [{prefix: paid}]}}}}
            - {type: condition, config: {expression: "source.depth > 100", source: "https://q/depth", interval: 30s}}
            """
        ),
    )
    # When parsed / Then each has its typed config and defaults
    manual, schedule, webhook, event, condition = WorkflowDefinition.model_validate(raw).triggers
    assert manual.name == "by hand" and manual.is_enabled
    assert schedule.config.timezone == "UTC"
    assert webhook.config.method == "PUT" and not webhook.is_enabled
    assert event.config.pattern["detail"] == {"state": [{"prefix": "paid"}]}
    assert condition.config.interval == 30.0
