"""Tests of orchestrator.asl.jsonata_eval: templates, AWS error causes, AWS functions, threads."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from orchestrator.asl import jsonata_eval
from orchestrator.asl.jsonata_eval import (
    QUERY_EVALUATION_ERROR,
    JsonataError,
    JsonataSyntaxError,
    compile_jsonata_template,
    evaluate_template,
    is_jsonata_expression,
)

# the repository's copy of ../shared/conformance: a clean clone has no ../shared
RECORDED_CASES_DIR = Path(__file__).resolve().parents[2] / "conformance/aws-recorded/cases/jsonata"


def evaluate(
    value: Any, states_input: Any = None, variables: dict[str, Any] | None = None, field: str = "Output"
):
    compiled = compile_jsonata_template(value, field)
    return evaluate_template(
        compiled, {"input": {} if states_input is None else states_input}, variables or {}
    )


def evaluation_error(
    value: Any, states_input: Any = None, variables: dict[str, Any] | None = None, field="Output"
):
    with pytest.raises(JsonataError) as raised:
        evaluate(value, states_input, variables, field)
    assert raised.value.error == QUERY_EVALUATION_ERROR
    return raised.value


# --------------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% $states.input %}", True),
        ("{%%}", True),
        (" {% $states.input %} ", False),
        ("{% $states.input %} ", False),
        ("{% $states.input", False),
        ("$states.input", False),
        ("{%", False),
        (None, False),
        ({"a": "{% 1 %}"}, False),
    ],
)
def test_is_jsonata_expression(value, expected):
    assert is_jsonata_expression(value) is expected


def test_constants_pass_through_unchanged():
    template = {
        "null": None,
        "int": 0,
        "float": 0.1,
        "bool": True,
        "not_jsonata": " {% states.input %} ",
        "path_like": "$.input_value",
        "intrinsic_like": "States.Format('Format:{}', 101)",
        "jp_key.$": "$",
        "list": [None, 0, [], {"constant": 0}],
    }
    compiled = compile_jsonata_template(template, "Output")
    assert compiled.has_expressions is False
    assert evaluate_template(compiled, {"input": {}}, {}) == template


def test_expressions_anywhere_in_the_template():
    template = [1, "{% $number('2') %}", {"key": "{% true %}", "nested": ["{% $states.input.a %}"]}]
    compiled = compile_jsonata_template(template, "Items")
    assert compiled.has_expressions is True
    assert evaluate_template(compiled, {"input": {"a": {"b": 1}}}, {}) == [
        1,
        2,
        {"key": True, "nested": [{"b": 1}]},
    ]


def test_each_evaluation_builds_fresh_containers():
    compiled = compile_jsonata_template({"a": [1], "b": "{% $states.input.x %}"}, "Output")
    states = {"input": {"x": {"deep": [1]}}}
    first = evaluate_template(compiled, states, {})
    first["a"].append(2)
    first["b"]["deep"].append(2)
    assert evaluate_template(compiled, states, {}) == {"a": [1], "b": {"deep": [1]}}
    assert states["input"] == {"x": {"deep": [1]}}


def test_states_members_and_variables_are_bound():
    states = {
        "input": {"n": 1},
        "context": {"Execution": {"Name": "run-1"}},
        "result": {"ok": True},
        "errorOutput": {"Error": "E"},
    }
    template = {
        "input": "{% $states.input.n %}",
        "context": "{% $states.context.Execution.Name %}",
        "result": "{% $states.result.ok %}",
        "error": "{% $states.errorOutput.Error %}",
        "variable": "{% $counter + 1 %}",
    }
    compiled = compile_jsonata_template(template, "Output")
    assert evaluate_template(compiled, states, {"counter": 41}) == {
        "input": 1,
        "context": "run-1",
        "result": True,
        "error": "E",
        "variable": 42,
    }


def test_json_null_stays_null_in_variables_input_and_results():
    assert evaluate("{% $v %}", variables={"v": None}) is None
    assert evaluate("{% $type($v) %}", variables={"v": None}) == "null"
    assert evaluate({"v": "{% $states.input.bar %}"}, {"bar": None}) == {"v": None}
    assert evaluate("{% $states.input.list %}", {"list": [1, None]}) == [1, None]
    assert evaluate("{% null %}") is None
    assert evaluate("{% {'a': null} %}") == {"a": None}


def test_numbers_come_back_as_json_numbers():
    assert evaluate("{% $sum($states.input.v) + $c %}", {"v": [1, 2, 3]}, {"c": 1}) == 7
    assert isinstance(evaluate("{% 14 / 2 %}"), int)
    assert evaluate("{% 1 / 4 %}") == 0.25
    assert evaluate("{% [1..3] %}") == [1, 2, 3]


def test_regular_expressions_and_merge_from_recorded_cases():
    assert evaluate("{% $contains('hello$world', /^hello\\$/) %}") is True
    assert evaluate("{% $contains('hello$world', /^hello\\ /) %}") is False
    assert evaluate(
        "{% $merge([$states.input.part1, $states.input.part2]) %}",
        {"part1": {"hello": "world"}, "part2": {"foo": "bar"}},
    ) == {"hello": "world", "foo": "bar"}


# --------------------------------------------------------------------------------------------------
# Errors, with AWS's cause texts
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "field", "cause_field"),
    [
        ("{% $doesNotExist %}", "Output", "Output"),
        ({"result": "{% $doesNotExist %}"}, "Output", "Output/result"),
        ({"result": "{% $doesNotExist %}"}, "Assign", "Assign/result"),
        ({"a": {"b": [1, "{%   $doesNotExist   %}"]}}, "Output", "Output/a/b[1]"),
        ({"Input": {"pushLocation": "{% $doesNotExist %}"}}, "Arguments", "Arguments/Input/pushLocation"),
    ],
)
def test_undefined_result_is_a_query_evaluation_error(template, field, cause_field):
    error = evaluation_error(template, field=field)
    assert error.cause == (
        f"The JSONata expression '$doesNotExist' specified for the field '{cause_field}' returned nothing (undefined)."
    )
    assert error.expression == "$doesNotExist"
    assert error.field == cause_field


def test_function_result_is_unsupported():
    error = evaluation_error("{% $fn := function($x){$x} %}", field="Items")
    assert error.cause == (
        "The JSONata expression '$fn := function($x){$x}' specified for the field 'Items' "
        "returned an unsupported result type."
    )


def test_evaluation_errors_carry_the_jsonata_code():
    error = evaluation_error("{% 1 + 'a' %}")
    assert error.cause.startswith(
        "The JSONata expression '1 + 'a'' specified for the field 'Output' threw an error during evaluation. T2002: "
    )


def test_signature_mismatch_names_the_function():
    error = evaluation_error("{% $range('0', 4, 1) %}")
    assert error.cause == (
        "The JSONata expression '$range('0', 4, 1)' specified for the field 'Output' threw an error during "
        'evaluation. T0410: Argument 1 of function "range" does not match function signature'
    )


def test_eval_is_disabled_like_on_aws():
    error = evaluation_error("{% $eval('1 + 1') %}")
    assert error.cause.endswith("threw an error during evaluation. T1006: Attempted to invoke a non-function")


def test_syntax_errors_are_reported_when_compiling():
    with pytest.raises(JsonataSyntaxError) as raised:
        compile_jsonata_template({"v": "{% a[1,2) %}"}, "Output")
    assert raised.value.field == "Output/v"
    assert raised.value.expression == "a[1,2)"
    assert "S0202" in str(raised.value)


def test_jsonata_error_is_an_exception_with_error_and_cause():
    error = JsonataError("States.QueryEvaluationError", "cause text")
    assert (error.error, error.cause) == ("States.QueryEvaluationError", "cause text")


# --------------------------------------------------------------------------------------------------
# AWS's JSONata functions
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "size", "expected"),
    [
        ([0], 1, [[0]]),
        ([0, 1, 2], 1, [[0], [1], [2]]),
        ([0, 1, 2, 3], 5, [[0, 1, 2, 3]]),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], 3, [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
        ([1, 2, 3, 4, 5], 2.9, [[1, 2], [3, 4], [5]]),
    ],
)
def test_partition(array, size, expected):
    assert evaluate("{% $partition($states.input.a, $states.input.n) %}", {"a": array, "n": size}) == expected


@pytest.mark.parametrize(("array", "size"), [([], 2), ([1, 2], 0), ([1, 2], -1)])
def test_partition_evaluates_to_nothing_for_empty_arrays_and_sizes_below_one(array, size):
    error = evaluation_error("{% $partition($states.input.a, $states.input.n) %}", {"a": array, "n": size})
    assert error.cause.endswith("returned nothing (undefined).")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("0, 9, 3", [0, 3, 6, 9]),
        ("1, 9, 9", 1),  # recorded: a one-element range is the bare number
        ("1, 9, 2", [1, 3, 5, 7, 9]),
        ("0, 10, 2", [0, 2, 4, 6, 8, 10]),
        ("9, 1, -2", [9, 7, 5, 3, 1]),
        ("-1.2, 2.8, 1.9", [-1, 0, 1, 2]),
        ("0, 1000, 1", list(range(1001))),
    ],
)
def test_range(arguments, expected):
    assert evaluate(f"{{% $range({arguments}) %}}") == expected


@pytest.mark.parametrize("arguments", ["3, 1, 1", "1, 3, -1", "0, 4, 0", "0, 4"])
def test_range_evaluates_to_nothing_without_a_usable_step(arguments):
    assert evaluate(f"{{% $append([], $range({arguments})) %}}") == []
    error = evaluation_error(f"{{% $range({arguments}) %}}")
    assert error.cause.endswith("returned nothing (undefined).")


def test_hash():
    assert evaluate("{% $hash('input data', 'MD5') %}") == "812f45842bc6d66ee14572ce20db8e86"
    assert evaluate("{% $hash('input data', 'SHA-256') %}") == (
        "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"
    )
    assert evaluate("{% $append([], $hash('input data')) %}") == []
    error = evaluation_error("{% $hash('x', 'sha-256') %}")
    assert "threw an error during evaluation. Invalid algorithm 'sha-256' for function $hash." in error.cause


def test_random_is_a_fraction_and_repeatable_with_a_seed():
    for _ in range(20):
        assert 0 <= evaluate("{% $random() %}") < 1
    assert evaluate("{% $random(42) %}") == evaluate("{% $random(42) %}")
    assert evaluate("{% $random(42) %}") != evaluate("{% $random(43) %}")


def test_uuid():
    first, second = evaluate("{% $uuid() %}"), evaluate("{% $uuid() %}")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)
    assert first != second


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-0", 0),
        ("true", True),
        ('{"Arg1": 1, "Arg2": []}', {"Arg1": 1, "Arg2": []}),
        ("null", None),
        ("1.5", 1.5),
    ],
)
def test_parse(text, expected):
    assert evaluate("{% $parse($states.input.s) %}", {"s": text}) == expected


def test_parse_rejects_invalid_json():
    error = evaluation_error("{% $parse($states.input.s) %}", {"s": "{oops"})
    assert (
        "threw an error during evaluation. Unable to parse the JSON string passed to function $parse"
        in error.cause
    )


# --------------------------------------------------------------------------------------------------
# Caching and threads
# --------------------------------------------------------------------------------------------------


def test_compiled_expressions_are_cached_by_text():
    first = jsonata_eval._compiled_expression("$states.input.cached_example")
    assert jsonata_eval._compiled_expression("$states.input.cached_example") is first
    compile_jsonata_template("{%  $states.input.cached_example  %}", "Output")
    assert jsonata_eval._COMPILED_EXPRESSIONS["$states.input.cached_example"] is first


def test_one_template_evaluated_from_many_threads_at_once():
    compiled = compile_jsonata_template(
        {
            "mapped": "{% $map($states.input.items, function($v) { $v * $factor }) %}",
            "sorted": "{% $sort($states.input.items, function($a, $b) { $a < $b }) %}",
            "id": "{% $states.input.id %}",
        },
        "Output",
    )
    failures: list[str] = []
    barrier = threading.Barrier(8)

    def run(worker: int) -> None:
        barrier.wait()
        for round_number in range(150):
            items = [worker, round_number, 1]
            result = evaluate_template(
                compiled, {"input": {"items": items, "id": worker}}, {"factor": worker}
            )
            expected = {
                "mapped": [value * worker for value in items],
                "sorted": sorted(items, reverse=True),
                "id": worker,
            }
            if result != expected:
                failures.append(f"worker {worker}: {result} != {expected}")

    threads = [threading.Thread(target=run, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# --------------------------------------------------------------------------------------------------
# AWS-recorded cases that are a single JSONata Pass state (the rest need the interpreter)
# --------------------------------------------------------------------------------------------------

_SINGLE_PASS_FIELDS = {"Type", "End", "Comment", "QueryLanguage", "Output", "Assign"}


def _recorded_cases() -> list[Path]:
    return sorted(RECORDED_CASES_DIR.glob("*.json"))


def _single_jsonata_pass_state(definition: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    if len(definition["States"]) != 1:
        return None
    ((name, state),) = definition["States"].items()
    language = state.get("QueryLanguage", definition.get("QueryLanguage", "JSONPath"))
    if state["Type"] != "Pass" or language != "JSONata" or not state.keys() <= _SINGLE_PASS_FIELDS:
        return None
    return name, state


def _run_single_pass_state(state: dict[str, Any], states_input: Any) -> Any:
    states = {"input": states_input, "context": {"Execution": {"Input": states_input}}}
    if "Assign" in state:
        evaluate_template(compile_jsonata_template(state["Assign"], "Assign"), states, {})
    if "Output" in state:
        return evaluate_template(compile_jsonata_template(state["Output"], "Output"), states, {})
    return states_input


@pytest.mark.parametrize("case_path", _recorded_cases(), ids=lambda path: path.stem)
def test_recorded_aws_case(case_path: Path):
    case = json.loads(case_path.read_text())
    single_state = _single_jsonata_pass_state(case["definition"])
    if single_state is None:
        pytest.skip("needs the interpreter; its conformance test covers this case")
    state_name, state = single_state
    expected = case["expected"]
    if expected["status"] == "SUCCEEDED":
        assert _run_single_pass_state(state, case["input"]) == expected["output"]
        return
    with pytest.raises(JsonataError) as raised:
        _run_single_pass_state(state, case["input"])
    # The interpreter adds the state prefix; for the first state it is entered at event #2.
    prefix = f"An error occurred while executing the state '{state_name}' (entered at the event id #2). "
    assert raised.value.error == expected["error"]
    assert prefix + raised.value.cause == expected["cause"]
