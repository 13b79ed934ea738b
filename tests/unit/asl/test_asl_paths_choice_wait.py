"""JSONPath engine, Choice rules and Wait states beyond what the AWS-recorded corpus covers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.asl import load_state_machine
from orchestrator.asl.jsonpath import PathNotFound, PathSyntaxError, compile_path
from orchestrator.asl.timestamps import format_timestamp

DOCUMENT = {
    "store": {
        "books": [
            {"title": "A", "price": 8, "tags": ["x"]},
            {"title": "B", "price": 12},
            {"title": "C", "price": 30, "isbn": "1"},
        ],
        "owner": {"name": "o"},
    },
    "odd key": {"it's": 1},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOCUMENT),
        ("$.store.owner.name", "o"),
        ("$['store']['owner']", {"name": "o"}),
        ("$.store.books[-1].title", "C"),
        ("$['odd key']['it\\'s']", 1),
        ("$.store.books[*].title", ["A", "B", "C"]),
        ("$.store.books[0:2].price", [8, 12]),
        ("$.store.books[::2].title", ["A", "C"]),
        ("$.store.books[0,2].title", ["A", "C"]),
        ("$..price", [8, 12, 30]),
        ("$.store.books[?(@.price > 10)].title", ["B", "C"]),
        ("$.store.books[?(@.price >= 8 && @.price < 12)].title", ["A"]),
        ("$.store.books[?(@.isbn)].title", ["C"]),
        ("$.store.books[?(@.title == 'B' || @.price == 30)].price", [12, 30]),
        ("$.store.books[?(@.title =~ /[ab]/i)].title", ["A", "B"]),
        ("$.store.books.length()", 3),
        ("$.missing[*]", []),
    ],
)
def test_jsonpath_selects_like_jayway(path, expected):
    # Given a compiled path, When applied to the document, Then it selects what Jayway JsonPath selects
    assert compile_path(path).find(DOCUMENT) == expected


def test_a_missing_definite_path_names_the_normalised_path():
    # Given a definite path into a missing member, When applied, Then the error names it in bracket form
    with pytest.raises(PathNotFound, match=r"No results for path: \$\['store'\]\['nope'\]\[0\]"):
        compile_path("$.store.nope[0]").find(DOCUMENT)


@pytest.mark.parametrize("text", ["store", "$.", "$[", "$.a[?(@.b ==)]", "$.a[x]"])
def test_malformed_paths_are_rejected(text):
    with pytest.raises(PathSyntaxError):
        compile_path(text)


def choose(rule: dict, default: str = "No") -> dict:
    return {
        "StartAt": "Check",
        "States": {
            "Check": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}], "Default": default},
            "Yes": {"Type": "Pass", "Result": "yes", "End": True},
            "No": {"Type": "Pass", "Result": "no", "End": True},
        },
    }


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ({"TimestampEquals": "2024-01-01T00:00:00Z"}, "2024-01-01T01:00:00+01:00", "yes"),
        ({"TimestampLessThan": "2024-01-01T00:00:00Z"}, "2023-12-31T23:59:59.999999999Z", "yes"),
        ({"TimestampGreaterThanEquals": "2024-01-01T00:00:00Z"}, "2023-12-31T23:59:59Z", "no"),
        ({"TimestampGreaterThan": "2024-01-01T00:00:00Z"}, "not a time", "no"),
        ({"IsTimestamp": True}, "2024-02-29T12:00:00Z", "yes"),
        ({"IsTimestamp": True}, "2024-02-30T12:00:00Z", "no"),
        ({"StringMatches": "log-*.txt"}, "log-2024.txt", "yes"),
        ({"StringMatches": "log-*.txt"}, "log-2024.csv", "no"),
        ({"StringMatches": "a\\*b"}, "a*b", "yes"),
        ({"StringMatches": "a\\*b"}, "axxb", "no"),
        ({"StringMatches": "back\\\\slash*"}, "back\\slash!", "yes"),
        ({"NumericEquals": 2}, 2.0, "yes"),
        ({"NumericEquals": 1}, True, "no"),
        ({"BooleanEquals": False}, 0, "no"),
        ({"StringEquals": "1"}, 1, "no"),
    ],
)
def test_choice_comparisons(interpreter, rule, value, expected):
    # Given a rule comparing $.value, When the value is given, Then the expected branch is taken
    machine = load_state_machine(choose({"Variable": "$.value", **rule}))
    assert interpreter.run(machine, {"value": value}).output == expected


def test_timestamp_path_comparison(interpreter):
    machine = load_state_machine(choose({"Variable": "$.a", "TimestampLessThanPath": "$.b"}))
    assert interpreter.run(machine, {"a": "2024-01-01T00:00:00Z", "b": "2024-01-02T00:00:00Z"}).output == "yes"


def test_a_missing_choice_variable_is_a_runtime_error(interpreter):
    # Given a rule on a path the input does not have
    machine = load_state_machine(choose({"Variable": "$.absent", "NumericEquals": 1}))

    # When it runs, Then the execution fails as AWS reports it
    result = interpreter.run(machine, {})
    assert result.error == "States.Runtime"
    assert result.cause.endswith(
        "Invalid path '$.absent': The choice state's condition path references an invalid value."
    )


def test_no_matching_rule_without_default(interpreter):
    # Given a Choice without Default, When no rule matches, Then States.NoChoiceMatched
    definition = choose({"Variable": "$.n", "NumericEquals": 1})
    del definition["States"]["Check"]["Default"]
    del definition["States"]["No"]
    result = interpreter.run(load_state_machine(definition), {"n": 2})
    assert (result.status, result.error) == ("FAILED", "States.NoChoiceMatched")


def test_a_choice_rule_assigns_only_when_it_matches(interpreter):
    # Given rule-level and state-level Assign
    definition = choose({"Variable": "$.n", "NumericEquals": 1, "Assign": {"route": "rule"}})
    definition["States"]["Check"]["Assign"] = {"route": "default"}
    definition["States"]["Yes"] = {"Type": "Pass", "Parameters": {"route.$": "$route"}, "End": True}
    definition["States"]["No"] = {"Type": "Pass", "Parameters": {"route.$": "$route"}, "End": True}
    machine = load_state_machine(definition)

    # When a rule matches, Then its Assign applies; otherwise the state's
    assert interpreter.run(machine, {"n": 1}).output == {"route": "rule"}
    assert interpreter.run(machine, {"n": 2}).output == {"route": "default"}


def test_wait_until_a_future_timestamp_moves_the_fake_clock(interpreter, clock):
    # Given a Wait until a time 90 seconds from now
    target = clock.now() + timedelta(seconds=90)
    machine = load_state_machine(
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "TimestampPath": "$.until", "End": True}}}
    )

    # When it runs
    interpreter.run(machine, {"until": format_timestamp(target)})

    # Then the virtual clock reached the timestamp at once
    assert clock.now() >= target.replace(microsecond=(target.microsecond // 1000) * 1000)
    assert clock.sleeps == [pytest.approx(90, abs=0.001)]


def test_wait_seconds_path_and_missing_path(interpreter, clock):
    # Given SecondsPath, When the input has 7, Then the state waits 7 s; When it is missing, a runtime error
    machine = load_state_machine({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}})
    assert interpreter.run(machine, {"s": 7}).status == "SUCCEEDED"
    assert clock.sleeps == [7.0]
    missing = interpreter.run(machine, {})
    assert missing.cause.endswith("The SecondsPath parameter does not reference an input value: $.s")


def test_result_path_into_a_non_object_is_a_result_path_match_failure(interpreter):
    # Given a ResultPath that must descend into a string
    machine = load_state_machine(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": True}}}
    )

    # When it runs, Then the state fails with States.ResultPathMatchFailure
    result = interpreter.run(machine, {"a": "text"})
    assert result.error == "States.ResultPathMatchFailure"
    assert result.cause == 'Unable to apply ReferencePath $.a.b to input {"a":"text"}'
