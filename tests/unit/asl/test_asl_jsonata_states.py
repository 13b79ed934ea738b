"""JSONata states beyond the recorded corpus: Tasks with Arguments, $states.result / errorOutput, Map
items and ItemSelector, expression-valued fields, load-time syntax errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orchestrator.asl import AslDefinitionError, load_state_machine


def jsonata(states: dict[str, Any], start: str) -> Any:
    return load_state_machine({"QueryLanguage": "JSONata", "StartAt": start, "States": states})


def test_a_task_takes_arguments_and_outputs_from_its_result(interpreter, functions):
    # Given a lambda:invoke Task with JSONata Arguments, Output and Assign
    functions.add("price", lambda event: {"total": event["qty"] * event["unit"]})
    machine = jsonata(
        {
            "Price": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "price", "Payload": {"qty": "{% $states.input.qty %}", "unit": 3}},
                "Output": {"total": "{% $states.result.Payload.total %}", "order": "{% $states.input.id %}"},
                "Assign": {"lastTotal": "{% $states.result.Payload.total %}"},
                "Next": "Report",
            },
            "Report": {"Type": "Pass", "Output": "{% 'total ' & $string($lastTotal) %}", "End": True},
        },
        "Price",
    )

    # When it runs
    result = interpreter.run(machine, {"id": "A-1", "qty": 4})

    # Then the function got the Arguments' Payload and the states saw the result and the variable
    assert functions.calls == [("price", {"qty": 4, "unit": 3})]
    assert result.output == "total 12"
    price_exit = [e for e in result.history if e["type"] == "TaskStateExited"][0]["stateExitedEventDetails"]
    assert json.loads(price_exit["output"]) == {"total": 12, "order": "A-1"}


def test_a_function_arn_task_without_arguments_gets_the_state_input(interpreter, functions):
    # Given a JSONata Task with a function ARN and no Arguments
    arn = functions.add("echo", lambda event: {"got": event})
    machine = jsonata({"Echo": {"Type": "Task", "Resource": arn, "End": True}}, "Echo")

    # When it runs, Then the input is the event and the result the output
    assert interpreter.run(machine, {"a": 1}).output == {"got": {"a": 1}}


def test_a_catcher_sees_the_error_output(interpreter, functions):
    # Given a failing function and a Catcher with JSONata Output and Assign
    def fail(event: Any) -> Any:
        raise PermissionError("denied")

    arn = functions.add("guarded", fail)
    machine = jsonata(
        {
            "Call": {
                "Type": "Task",
                "Resource": arn,
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Output": {"failed": "{% $states.errorOutput.Error %}", "input": "{% $states.input %}"},
                        "Assign": {"why": "{% $parse($states.errorOutput.Cause).errorMessage %}"},
                        "Next": "Handle",
                    }
                ],
                "End": True,
            },
            "Handle": {"Type": "Pass", "Output": "{% $merge([$states.input, {'why': $why}]) %}", "End": True},
        },
        "Call",
    )

    # When it runs
    result = interpreter.run(machine, {"user": "u1"})

    # Then the Catcher's Output and Assign used $states.errorOutput
    assert result.output == {"failed": "PermissionError", "input": {"user": "u1"}, "why": "denied"}


def test_map_items_item_selector_and_result(interpreter):
    # Given a JSONata Map with Items, an ItemSelector using the item context and an Output over the results
    machine = jsonata(
        {
            "Each": {
                "Type": "Map",
                "Items": "{% $states.input.words %}",
                "ItemSelector": {
                    "word": "{% $states.context.Map.Item.Value %}",
                    "position": "{% $states.context.Map.Item.Index %}",
                    "suffix": "{% $states.input.suffix %}",
                },
                "ItemProcessor": {
                    "StartAt": "Join",
                    "States": {
                        "Join": {"Type": "Pass", "Output": "{% $states.input.word & $states.input.suffix & $string($states.input.position) %}", "End": True}
                    },
                },
                "Output": "{% $join($states.result, ' ') %}",
                "End": True,
            }
        },
        "Each",
    )

    # When it runs, Then each item was shaped by the ItemSelector and the results joined
    assert interpreter.run(machine, {"words": ["a", "b"], "suffix": "!"}).output == "a!0 b!1"


def test_parallel_arguments_feed_every_branch(interpreter):
    # Given a Parallel whose Arguments build the branch input
    machine = jsonata(
        {
            "Fork": {
                "Type": "Parallel",
                "Arguments": {"n": "{% $states.input.value * 10 %}"},
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": "{% $states.input.n + 1 %}", "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Output": "{% $states.input.n + 2 %}", "End": True}}},
                ],
                "Output": "{% $sum($states.result) %}",
                "End": True,
            }
        },
        "Fork",
    )

    # When it runs, Then both branches got the Arguments
    assert interpreter.run(machine, {"value": 2}).output == 43


def test_expression_valued_fields(interpreter, functions, clock):
    # Given Wait Seconds, MaxConcurrency and TimeoutSeconds computed by expressions
    def slow(event: Any) -> Any:
        clock.advance(event)
        return event

    arn = functions.add("slow", slow)
    machine = jsonata(
        {
            "Nap": {"Type": "Wait", "Seconds": "{% $states.input.nap %}", "Next": "Each"},
            "Each": {
                "Type": "Map",
                "Items": "{% $states.input.durations %}",
                "MaxConcurrency": "{% $states.input.limit %}",
                "ItemProcessor": {
                    "StartAt": "Work",
                    "States": {"Work": {"Type": "Task", "Resource": arn, "TimeoutSeconds": "{% 5 %}", "End": True}},
                },
                "End": True,
            },
        },
        "Nap",
    )

    # When an item runs longer than the computed timeout
    ok = interpreter.run(machine, {"nap": 7, "durations": [1, 2], "limit": 1})
    late = interpreter.run(machine, {"nap": 0, "durations": [1, 9], "limit": 1})

    # Then the Wait used the computed seconds, and the computed timeout applied
    assert ok.output == [1, 2]
    assert clock.sleeps[0] == 7.0
    assert late.error == "States.Timeout"


def test_a_condition_must_be_boolean(interpreter):
    # Given a Choice whose Condition yields a string
    machine = jsonata(
        {
            "Check": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.flag %}", "Next": "Done"}], "Default": "Done"},
            "Done": {"Type": "Succeed"},
        },
        "Check",
    )

    # When it runs, Then the execution fails with States.QueryEvaluationError
    result = interpreter.run(machine, {"flag": "yes"})
    assert result.error == "States.QueryEvaluationError"
    assert "Expected 'boolean', but was 'string'" in result.cause


def test_an_expression_error_is_a_query_evaluation_error(interpreter):
    # Given an Output expression that fails at run time
    machine = jsonata({"Bad": {"Type": "Pass", "Output": "{% $number('not a number') %}", "End": True}}, "Bad")

    # When it runs, Then the failure is located and decorated like AWS's
    result = interpreter.run(machine, {})
    assert result.error == "States.QueryEvaluationError"
    assert result.cause.startswith("An error occurred while executing the state 'Bad' (entered at the event id #2).")


@pytest.mark.parametrize(("catch_all", "status"), [("States.ALL", "SUCCEEDED"), ("States.TaskFailed", "FAILED")])
def test_states_all_catches_an_expression_error_but_task_failed_does_not(interpreter, functions, catch_all, status):
    # Given a Task whose Arguments fail to evaluate, with a Catcher
    arn = functions.add("never", lambda event: event)
    machine = jsonata(
        {
            "Call": {
                "Type": "Task",
                "Resource": arn,
                "Arguments": "{% $states.input.missing %}",
                "Catch": [{"ErrorEquals": [catch_all], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
        "Call",
    )

    # When it runs, Then only States.ALL catches it: the query failing is not the task failing
    assert interpreter.run(machine, {}).status == status
    assert functions.calls == []


def test_jsonpath_and_jsonata_states_share_variables(interpreter):
    # Given a JSONPath state assigning a variable a JSONata state reads, and back
    machine = load_state_machine(
        {
            "StartAt": "Set",
            "States": {
                "Set": {"Type": "Pass", "Assign": {"base.$": "$.start"}, "Next": "Double"},
                "Double": {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"doubled": "{% $base * 2 %}"}, "Next": "Show"},
                "Show": {"Type": "Pass", "Parameters": {"doubled.$": "$doubled"}, "End": True},
            },
        }
    )

    # When it runs, Then the value went through both languages
    assert interpreter.run(machine, {"start": 21}).output == {"doubled": 42}


def test_syntax_errors_and_misplaced_fields_fail_at_load_time():
    # Given a JSONata machine with an unparsable expression, a JSONPath field and a bad Condition
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Output": "{% $states.input.( %}", "Next": "B"},
            "B": {"Type": "Pass", "InputPath": "$.x", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Condition": "yes", "Next": "D"}], "Default": "D"},
            "D": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True},
        },
    }

    # When loaded, Then every problem is reported with its location
    with pytest.raises(AslDefinitionError) as raised:
        load_state_machine(definition)
    problems = raised.value.problems
    assert any(p.startswith("States.A.Output: The JSONata expression '$states.input.(' specified for the field 'Output' is invalid") for p in problems), problems
    assert "States.B.InputPath: not allowed in a JSONata state" in problems
    assert "States.C.Choices[0].Condition: must be true, false or a JSONata expression {% ... %}" in problems
    assert "States.D.QueryLanguage: a JSONata state machine cannot have JSONPath states" in problems
