"""Execution history in Step Functions' event format, the live listener, the Context object, variables."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from orchestrator.asl import load_state_machine


def test_the_listener_sees_every_event_as_it_is_appended(interpreter, types_of):
    # Given a listener collecting events
    seen: list[dict[str, Any]] = []
    machine = load_state_machine(
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
    )

    # When an execution runs
    result = interpreter.run(machine, {"x": 1}, listener=seen.append)

    # Then it saw exactly the history, in order, with consecutive ids
    assert seen == result.history
    assert [event["id"] for event in seen] == [1, 2, 3, 4, 5, 6]
    assert types_of(seen) == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]


def test_events_have_step_functions_shape(interpreter):
    # Given a one-state machine
    machine = load_state_machine({"StartAt": "Only", "States": {"Only": {"Type": "Pass", "Result": [1, 2], "End": True}}})

    # When it runs
    started, entered, exited, succeeded = interpreter.run(machine, {"in": True}).history

    # Then each event carries timestamp, type, id, previousEventId and its typed details (JSON as text)
    assert isinstance(started["timestamp"], datetime) and started["timestamp"].tzinfo is not None
    assert started["executionStartedEventDetails"]["input"] == '{"in":true}'
    assert started["executionStartedEventDetails"]["roleArn"].startswith("arn:aws:iam::")
    assert entered["stateEnteredEventDetails"] == {"name": "Only", "input": '{"in":true}', "inputDetails": {"truncated": False}}
    assert exited["previousEventId"] == entered["id"]
    assert exited["stateExitedEventDetails"]["output"] == "[1,2]"
    assert succeeded["executionSucceededEventDetails"]["output"] == "[1,2]"


def test_map_history_names_each_iteration(interpreter, types_of):
    # Given a Map over two items
    machine = load_state_machine(
        {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "MaxConcurrency": 1,
                    "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                    "End": True,
                }
            },
        }
    )

    # When it runs
    history = interpreter.run(machine, ["a", "b"]).history

    # Then the Map's events frame each iteration's own events
    assert types_of(history) == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]
    assert history[2]["mapStateStartedEventDetails"] == {"length": 2}
    assert history[7]["mapIterationStartedEventDetails"] == {"name": "Each", "index": 1}


def test_the_context_object(interpreter, clock):
    # Given a state that copies the Context object into its output
    machine = load_state_machine(
        {
            "StartAt": "Look",
            "States": {
                "Look": {
                    "Type": "Pass",
                    "Parameters": {
                        "execution.$": "$$.Execution",
                        "state.$": "$$.State",
                        "machine.$": "$$.StateMachine",
                    },
                    "End": True,
                }
            },
        },
        name="Orders",
    )

    # When an execution named "run-1" runs
    result = interpreter.run(machine, {"order": 5}, name="run-1")

    # Then $$ describes the execution, the state and the machine
    context = result.output
    assert context["execution"]["Id"] == "arn:aws:states:us-east-1:000000000000:execution:Orders:run-1"
    assert context["execution"]["Name"] == "run-1"
    assert context["execution"]["Input"] == {"order": 5}
    assert context["execution"]["RoleArn"] == "arn:aws:iam::000000000000:role/orchestrator-local-states"
    assert context["execution"]["StartTime"].endswith("Z")
    assert context["state"]["Name"] == "Look"
    assert context["state"]["RetryCount"] == 0
    assert context["state"]["EnteredTime"].endswith("Z")
    assert context["machine"] == {"Id": "arn:aws:states:us-east-1:000000000000:stateMachine:Orders", "Name": "Orders"}


def test_map_item_index_and_value_in_the_item_selector(interpreter):
    # Given an ItemSelector reading $$.Map.Item
    machine = load_state_machine(
        {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "ItemSelector": {"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value", "all.$": "$.tag"},
                    "ItemsPath": "$.items",
                    "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                    "End": True,
                }
            },
        }
    )

    # When it runs, Then each iteration got its index, its item and the Map's input
    result = interpreter.run(machine, {"items": ["x", "y"], "tag": "t"})
    assert result.output == [{"index": 0, "value": "x", "all": "t"}, {"index": 1, "value": "y", "all": "t"}]


def test_variables_are_assigned_when_the_state_ends(interpreter):
    # Given a state that assigns a variable and reads it in its own OutputPath
    machine = load_state_machine(
        {
            "StartAt": "Set",
            "States": {
                "Set": {"Type": "Pass", "Assign": {"count": 1}, "Next": "Bump"},
                "Bump": {
                    "Type": "Pass",
                    "Assign": {"count": 2, "previous.$": "$count"},
                    "Parameters": {"seen.$": "$count"},
                    "Next": "Show",
                },
                "Show": {"Type": "Pass", "Parameters": {"count.$": "$count", "previous.$": "$previous"}, "End": True},
            },
        }
    )

    # When it runs
    result = interpreter.run(machine, {})

    # Then every reference inside a state saw the values from before it; the next state the new ones
    assert result.output == {"count": 2, "previous": 1}
    bump_exit = [e for e in result.history if e["type"] == "PassStateExited"][1]["stateExitedEventDetails"]
    assert json.loads(bump_exit["output"]) == {"seen": 1}
    assert bump_exit["assignedVariables"] == {"count": "2", "previous": "1"}


def test_inner_scopes_read_outer_variables_but_cannot_reassign_them(interpreter):
    # Given an outer variable, a Map reading it, and a Map trying to assign it
    reading = {
        "StartAt": "Outer",
        "States": {
            "Outer": {"Type": "Pass", "Assign": {"rate": 3}, "Next": "Each"},
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Scale",
                    "States": {
                        "Scale": {"Type": "Pass", "Parameters": {"scaled.$": "States.MathAdd($, $rate)"}, "Assign": {"local": 1}, "End": True}
                    },
                },
                "Next": "After",
            },
            "After": {"Type": "Pass", "Parameters": {"rate.$": "$rate", "results.$": "$"}, "End": True},
        },
    }
    writing = json.loads(json.dumps(reading))
    writing["States"]["Each"]["ItemProcessor"]["States"]["Scale"]["Assign"] = {"rate": 4}

    # When they run
    read_result = interpreter.run(load_state_machine(reading), [1, 2])
    write_result = interpreter.run(load_state_machine(writing), [1, 2])

    # Then the iterations read the outer value, and assigning it from inside fails the execution
    assert read_result.output == {"rate": 3, "results": [{"scaled": 4}, {"scaled": 5}]}
    assert write_result.error == "States.Runtime"
    assert "belongs to an outer scope" in write_result.cause


def test_inner_assignments_stay_inside(interpreter):
    # Given a Parallel branch assigning a variable the outer scope then reads
    machine = load_state_machine(
        {
            "StartAt": "Fork",
            "States": {
                "Fork": {
                    "Type": "Parallel",
                    "Branches": [{"StartAt": "Set", "States": {"Set": {"Type": "Pass", "Assign": {"inner": 1}, "End": True}}}],
                    "Next": "Read",
                },
                "Read": {"Type": "Pass", "Parameters": {"inner.$": "$inner"}, "End": True},
            },
        }
    )

    # When it runs, Then the variable is not defined outside its branch
    result = interpreter.run(machine, {})
    assert result.error == "States.Runtime"
    assert "'$inner'" in result.cause
