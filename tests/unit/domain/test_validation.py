"""Validation: every problem of a workflow, all at once, each at its exact location."""

from __future__ import annotations

import pytest

from orchestrator.domain.problems import Problem, WorkflowValidationError
from orchestrator.domain.validation import validate_workflow
from orchestrator.services.workflow_loader import definition_from_dict
from orchestrator.steps import registry
from orchestrator.steps.registry import STEP_TYPES

from .builders import step, workflow


def problems_of(raw) -> list[str]:
    return [str(problem) for problem in validate_workflow(raw, STEP_TYPES)]


def test_a_sound_workflow_has_no_problems():
    # Given steps that depend on and reference each other properly / When validated / Then nothing is wrong
    raw = workflow(
        step(
            "fetch",
            "fake_http",
            config={"url": "{{variables.api}}/x", "headers": {"A": "Bearer {{secrets.t}}"}},
        ),
        step(
            "check",
            "condition",
            depends_on=["fetch"],
            config={"expression": "steps.fetch.output.status == 200"},
        ),
        step(
            "use",
            depends_on=["check"],
            when="steps.check.output.result",
            input_mapping={"b": "{{steps.fetch.output}}"},
        ),
        variables={"api": "https://x"},
    )
    assert validate_workflow(raw, STEP_TYPES) == []


# --- shapes (the model's errors, at document locations) ---------------------------------------------------


def test_model_errors_are_located_in_the_document():
    # Given wrong values in a nested retry policy and a missing id
    raw = workflow(
        step("a"), step("b"), {"type": "noop"}, step("d", retry={"max_attempts": 0, "backoff_factor": "x"})
    )
    # When validated / Then each error is at its path in the document, without pydantic's union tags
    assert problems_of(raw) == [
        "steps[2].id: required field is missing",
        "steps[3].retry.backoff_factor: Input should be a valid number, unable to parse string as a number, found 'x'",
        "steps[3].retry.max_attempts: Input should be greater than or equal to 1, found 0",
    ]


def test_unknown_fields_are_reported_with_a_suggestion():
    raw = workflow(step("a"), step("b", depend_on=["a"]))
    assert problems_of(raw) == ["steps[1].depend_on: unknown field (did you mean 'depends_on'?)"]


def test_a_workflow_that_is_not_a_mapping_is_one_problem():
    assert problems_of(["steps"]) == ["a workflow must be a mapping with 'name' and 'steps', found a list"]


def test_missing_name_and_steps_are_reported():
    assert problems_of({"description": "x"}) == [
        "name: required field is missing",
        "steps: required field is missing",
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "timeout",
            "5 minutes",
            "steps[0].timeout: invalid duration '5 minutes': use a number of seconds or units",
        ),
        ("timeout", 0, "steps[0].timeout: Input should be greater than 0, found 0"),
        ("on_error", "ignore", "steps[0].on_error: Input should be 'fail' or 'continue', found 'ignore'"),
        ("id", "has space", "steps[0].id: invalid step id 'has space': use letters, digits, '_' and '-'"),
        (
            "when",
            "input.mode ==",
            "steps[0].when: invalid expression 'input.mode ==': invalid syntax at column 14",
        ),
        (
            "when",
            "input.__class__",
            "steps[0].when: invalid expression 'input.__class__': '__class__': names starting",
        ),
    ],
)
def test_bad_step_options_are_reported_at_the_option(field, value, message):
    # Given one bad option / When validated / Then the one problem is at that option
    (problem,) = problems_of(workflow({**step("a"), field: value}))
    assert problem.startswith(message)


def test_bad_retry_durations_are_reported_at_the_field():
    (problem,) = problems_of(workflow(step("a", retry={"initial_delay": "soon"})))
    assert problem.startswith("steps[0].retry.initial_delay: invalid duration 'soon'")


# --- ids, dependencies, cycles -----------------------------------------------------------------------------


def test_unknown_dependencies_are_reported_at_the_entry():
    raw = workflow(step("fetch_data"), step("b"), step("c"), step("d", depends_on=["fetch", "b"]))
    assert problems_of(raw) == ["steps[3].depends_on[0]: unknown step 'fetch' (did you mean 'fetch_data'?)"]


def test_a_step_cannot_depend_on_itself():
    assert problems_of(workflow(step("a", depends_on="a"))) == [
        "steps[0].depends_on: step 'a' cannot depend on itself"
    ]


def test_duplicate_ids_are_reported_also_across_nested_steps():
    # Given an id used at the top, inside a loop, and inside a parallel branch
    raw = workflow(
        step("a"),
        step("each", "loop", config={"items": [1], "steps": [step("a")]}),
        step("fan", "parallel", config={"branches": [[step("b")], [step("each")]]}),
    )
    # When validated / Then every repeat points at the first use
    assert problems_of(raw) == [
        "steps[1].config.steps[0].id: duplicate step id 'a' (first used at steps[0])",
        "steps[2].config.branches[1][0].id: duplicate step id 'each' (first used at steps[1])",
    ]


def test_cycles_are_reported_with_their_path():
    # Given a -> b -> c -> a (each waits for the one before) and a separate d <-> e
    raw = workflow(
        step("a", depends_on=["c"]),
        step("b", depends_on=["a"]),
        step("c", depends_on=["b"]),
        step("d", depends_on=["e"]),
        step("e", depends_on=["d"]),
        step("ok"),
    )
    # When validated / Then one problem per cycle, with the path, at the first step of each
    assert problems_of(raw) == [
        "steps[0].depends_on: dependency cycle: a -> b -> c -> a",
        "steps[3].depends_on: dependency cycle: d -> e -> d",
    ]


def test_nested_steps_depend_only_on_steps_of_their_own_list():
    # Given a loop body step depending on a top-level step, and on the loop itself
    raw = workflow(
        step("fetch"),
        step("each", "loop", config={"items": [1], "steps": [step("x", depends_on=["fetch", "each"])]}),
    )
    assert problems_of(raw) == [
        "steps[1].config.steps[0].depends_on[0]: step 'fetch' is in another step list (steps); a step depends "
        "only on steps of its own list (make the enclosing step depend on it instead)",
        "steps[1].config.steps[0].depends_on[1]: step 'each' contains this step; it cannot wait for it",
    ]


def test_unknown_step_types_are_reported_with_the_known_ones():
    (problem,) = problems_of(workflow(step("a", "fake_htp")))
    assert problem.startswith(
        "steps[0].type: unknown step type 'fake_htp' (did you mean 'fake_http'?); known types: "
    )
    assert "condition" in problem and "noop" in problem


# --- references -------------------------------------------------------------------------------------------


def test_template_references_to_unknown_steps_and_variables_are_reported():
    raw = workflow(
        step("fetch"),
        step(
            "use",
            depends_on=["fetch"],
            config={"message": "{{steps.fech.output.body}} {{variables.apii}}"},
            input_mapping={"raw_data": "{{steps.fetch.output.body}}", "x": "{{varibles.a}}"},
        ),
        variables={"api": "x"},
    )
    assert problems_of(raw) == [
        "steps[1].config.message: unknown step 'fech' (did you mean 'fetch'?) in {{steps.fech.output.body}}",
        "steps[1].config.message: unknown variable 'apii' (did you mean 'api'?) in {{variables.apii}}",
        "steps[1].input_mapping.x: unknown name 'varibles' (did you mean 'variables'?) in {{varibles.a}}; "
        "names are execution, input, loop, secrets, steps, variables",
    ]


def test_a_step_can_only_reference_steps_it_depends_on_transitively():
    # Given c depends on b depends on a, and d depends on nothing
    raw = workflow(
        step("a"),
        step("b", depends_on=["a"]),
        step("c", depends_on=["b"], input_mapping={"from_a": "{{steps.a.output}}"}),
        step("d", input_mapping={"from_c": "{{steps.c.output}}"}, when="steps.a.output.ok"),
    )
    # When validated / Then c may read a (through b); d may read neither
    assert problems_of(raw) == [
        "steps[3].input_mapping.from_c: step 'c' is not upstream of 'd' in {{steps.c.output}}; "
        "add it to depends_on (directly or through a dependency)",
        "steps[3].when: step 'a' is not upstream of 'd' in expression 'steps.a.output.ok'; "
        "add it to depends_on (directly or through a dependency)",
    ]


def test_a_step_cannot_read_its_own_output_except_through_output_mapping():
    raw = workflow(
        step("a", input_mapping={"x": "{{steps.a.output}}"}, output_mapping={"id": "{{output.body.id}}"})
    )
    assert problems_of(raw) == [
        "steps[0].input_mapping.x: step 'a' reads its own output in {{steps.a.output}}; "
        "output_mapping reads it as {{output...}}"
    ]


def test_loop_references_and_visibility_of_nested_steps():
    # Given a loop whose body reads the loop item, an upstream step and a sibling; and readers outside it
    raw = workflow(
        step("fetch"),
        step(
            "each",
            "loop",
            depends_on=["fetch"],
            config={
                "items": "{{steps.fetch.output.rows}}",
                "item_var": "row",
                "steps": [
                    step(
                        "one",
                        input_mapping={
                            "r": "{{loop.row}}",
                            "i": "{{loop.index}}",
                            "f": "{{steps.fetch.output}}",
                        },
                    ),
                    step(
                        "two",
                        depends_on=["one"],
                        input_mapping={"o": "{{steps.one.output}}", "bad": "{{loop.item}}"},
                    ),
                ],
            },
        ),
        step(
            "after",
            depends_on=["each"],
            input_mapping={"all": "{{steps.each.output}}", "one": "{{steps.one.output}}"},
        ),
        step("outside", input_mapping={"x": "{{loop.index}}"}),
    )
    # When validated / Then the body's references are fine but for loop.item (it is `row`), and outside
    # the loop neither a body step's output nor `loop` exist
    assert problems_of(raw) == [
        "steps[1].config.steps[1].input_mapping.bad: loop 'each' has no 'loop.item' in {{loop.item}}; "
        "it provides loop.row and loop.index",
        "steps[2].input_mapping.one: step 'one' runs once per item of loop 'each' in {{steps.one.output}}; "
        "read steps.each.output instead",
        "steps[3].input_mapping.x: 'loop' used outside a loop in {{loop.index}}; "
        "only the steps inside a loop's config.steps have loop.item and loop.index",
    ]


def test_parallel_branch_steps_are_visible_downstream_but_not_across_branches():
    raw = workflow(
        step(
            "fan",
            "parallel",
            config={
                "branches": [
                    [step("left")],
                    [step("right", input_mapping={"l": "{{steps.left.output}}"})],
                ]
            },
        ),
        step(
            "join",
            depends_on=["fan"],
            input_mapping={"l": "{{steps.left.output}}", "r": "{{steps.right.output}}"},
        ),
    )
    assert problems_of(raw) == [
        "steps[0].config.branches[1][0].input_mapping.l: step 'left' is not upstream of 'right' in "
        "{{steps.left.output}}; add it to depends_on (directly or through a dependency)"
    ]


def test_condition_expressions_are_checked_like_when():
    raw = workflow(step("check", "condition", config={"expression": "steps.nope.output > 1"}))
    assert problems_of(raw) == [
        "steps[0].config.expression: unknown step 'nope' in expression 'steps.nope.output > 1'"
    ]


def test_bad_condition_expression_syntax_is_reported_once():
    (problem,) = problems_of(workflow(step("check", "condition", config={"expression": "1 +"})))
    assert problem == "steps[0].config.expression: invalid expression '1 +': invalid syntax at column 4"


def test_malformed_templates_are_reported_at_their_string():
    (problem,) = problems_of(workflow(step("a", config={"message": "{{input.a b}}"})))
    assert problem.startswith(
        "steps[0].config.message: template '{{input.a b}}': cannot read the path at ' b'"
    )


def test_loop_items_must_be_a_list_or_one_template():
    (problem,) = problems_of(
        workflow(step("each", "loop", config={"items": "rows: {{input.rows}}", "steps": [step("x")]}))
    )
    assert (
        problem
        == "steps[0].config.items: items must be a list or one template such as '{{steps.fetch.output.rows}}'"
    )


# --- triggers ---------------------------------------------------------------------------------------------


def test_trigger_problems_are_located():
    raw = workflow(
        step("a"),
        triggers=[
            {"type": "schedule", "config": {"cron": "0 25 * * *", "timezone": "Asia/Shangai"}},
            {"type": "schedule", "config": {"cron": "0 2 * *"}},
            {"type": "webhook", "config": {"path": "hook", "method": "FETCH"}},
            {"type": "event", "config": {"pattern": {"source": "orders"}}},
            {
                "type": "condition",
                "config": {"expression": "steps.a.output", "source": "x", "interval": "often"},
            },
            {"type": "cron"},
            {"name": "no type"},
        ],
    )
    assert problems_of(raw) == [
        "triggers[0].config.cron: invalid cron '0 25 * * *': [0 25 * * *] is not acceptable, out of range",
        "triggers[0].config.timezone: unknown time zone 'Asia/Shangai' (use an IANA name such as 'Asia/Shanghai' or 'UTC')",
        "triggers[1].config.cron: invalid cron '0 2 * *': use 5 fields (minute hour day-of-month month day-of-week), e.g. '0 2 * * *'",
        "triggers[2].config.method: Input should be 'GET', 'POST', 'PUT', 'PATCH' or 'DELETE', found 'FETCH'",
        "triggers[2].config.path: a webhook path starts with '/', found 'hook'",
        'triggers[3].config.pattern: pattern.source must be a non-empty list of values, e.g. ["order.created"]',
        "triggers[4].config.expression: invalid expression 'steps.a.output': unknown name 'steps' (names are source, "
        "variables; functions are len, int, float, str, bool, abs, min, max, any, all, sum, round, list, tuple, set, "
        "dict) at column 1",
        "triggers[4].config.interval: invalid duration 'often': use a number of seconds or units like '30s', '5m', "
        "'1h30m', '250ms', '1d'",
        "triggers[5]: unknown type 'cron'; use one of 'manual', 'schedule', 'webhook', 'event', 'condition'",
        "triggers[6].type: required field is missing",
    ]


# --- executor configs -------------------------------------------------------------------------------------


def test_executor_configs_are_validated_ignoring_template_values():
    # Given a step whose config has a wrong method, a missing url, an unknown key, and templated values
    raw = workflow(
        step("a"),
        step(
            "call",
            "fake_http",
            config={"method": "FETCH", "retries": "{{variables.n}}", "timeout": "{{input.t}}", "bogus": 1},
        ),
        step("ok", "fake_http", config={"url": "{{variables.api}}", "headers": "{{input.headers}}"}),
        variables={"n": 3, "api": "x"},
    )
    # When validated / Then the non-template problems are reported under config, the templates are not judged
    assert problems_of(raw) == [
        "steps[1].config.bogus: unknown field",
        "steps[1].config.method: Input should be 'GET' or 'POST', found 'FETCH'",
        "steps[1].config.url: required field is missing",
    ]


def test_executor_configs_inside_loops_are_validated_too():
    raw = workflow(
        step("each", "loop", config={"items": [1], "steps": [step("c", "fake_http", config={"url": 5})]})
    )
    assert problems_of(raw) == [
        "steps[0].config.steps[0].config.url: Input should be a valid string, found 5"
    ]


# --- all at once ------------------------------------------------------------------------------------------


def test_every_kind_of_problem_is_reported_in_one_go():
    # Given a workflow with a shape error, an unknown dependency, a cycle, a bad reference and a bad type
    raw = workflow(
        step("a", depends_on=["b"], timeout="soon"),
        step("b", depends_on=["a"]),
        step("c", "htp", depends_on=["fetch"]),
        step("d", input_mapping={"x": "{{steps.c.output}}"}),
    )
    # When turned into a definition / Then one error lists every problem, one a line, with the source
    with pytest.raises(WorkflowValidationError) as raised:
        definition_from_dict(raw, source_name="workflow.yaml")
    assert str(raised.value).splitlines() == [
        "workflow.yaml: steps[0].depends_on: dependency cycle: a -> b -> a",
        "workflow.yaml: steps[0].timeout: invalid duration 'soon': use a number of seconds or units like '30s', "
        "'5m', '1h30m', '250ms', '1d'",
        "workflow.yaml: steps[2].depends_on[0]: unknown step 'fetch'",
        "workflow.yaml: steps[2].type: unknown step type 'htp' (did you mean 'http'?); known types: "
        + ", ".join(sorted(registry.known_types())),
        "workflow.yaml: steps[3].input_mapping.x: step 'c' is not upstream of 'd' in {{steps.c.output}}; "
        "add it to depends_on (directly or through a dependency)",
    ]
    assert raised.value.problems[2] == Problem("steps[2].depends_on[0]", "unknown step 'fetch'")


def test_problems_are_sorted_by_position_with_numeric_indexes():
    raw = workflow(*[step(f"s{i}") for i in range(12)])
    raw["steps"][10]["depends_on"] = ["nope"]
    raw["steps"][2]["depends_on"] = ["nope"]
    assert [p.location for p in validate_workflow(raw, STEP_TYPES)] == [
        "steps[2].depends_on[0]",
        "steps[10].depends_on[0]",
    ]


def test_unknown_executor_config_keys_suggest_the_executors_own_fields():
    (problem,) = problems_of(workflow(step("call", "fake_http", config={"url": "x", "metod": "GET"})))
    assert problem == "steps[0].config.metod: unknown field (did you mean 'method'?)"
