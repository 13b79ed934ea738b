"""Load-time validation: every problem is reported with its location; unsupported features never run."""

from __future__ import annotations

import json

import pytest

from orchestrator.asl import AslDefinitionError, load_state_machine

FN = "arn:aws:lambda:us-east-1:123456789012:function:work"


def problems_of(definition) -> list[str]:
    with pytest.raises(AslDefinitionError) as raised:
        load_state_machine(definition)
    return raised.value.problems


def test_every_problem_is_listed_with_its_location():
    # Given a definition with several independent mistakes
    definition = {
        "StartAt": "Fetch",
        "States": {
            "Fetch": {"Type": "Task", "Resource": FN, "Next": "Foo"},
            "Orphan": {"Type": "Pass", "End": True},
            "Broken": {"Type": "Pass", "Next": "Fetch", "End": True},
            "Odd": {"Type": "Teleport"},
        },
        "Extra": 1,
    }

    # When it is loaded
    problems = problems_of(definition)

    # Then each mistake is reported, located
    assert "States.Fetch.Next: unknown state 'Foo'" in problems
    assert "States.Orphan: state is not reachable from StartAt" in problems
    assert "States.Broken: has both Next and End" in problems
    assert "States.Odd.Type: unknown state type 'Teleport'" in problems
    assert "Extra: unknown top-level field" in problems
    # And the error message lists them all
    with pytest.raises(AslDefinitionError, match=r"invalid state machine definition \(\d+ problems\)"):
        load_state_machine(definition)


def test_missing_start_at_and_states():
    # Given definitions without StartAt / with an unknown StartAt / without States
    # When loaded, Then each says what is missing
    assert problems_of({"States": {"A": {"Type": "Succeed"}}}) == ["StartAt: missing or not a string"]
    assert problems_of({"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}) == ["StartAt: unknown state 'B'"]
    assert problems_of({"StartAt": "A"}) == ["States: missing or empty (a state machine needs at least one state)"]


def test_problems_inside_branches_and_item_processors_are_located():
    # Given mistakes inside a Parallel branch and a Map ItemProcessor
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Nowhere"}}}],
                "Next": "M",
            },
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "Y", "States": {"Y": {"Type": "Pass"}}},
                "End": True,
            },
        },
    }

    # When loaded, Then the locations name the branch and the processor
    problems = problems_of(definition)
    assert "States.P.Branches[0].States.X.Next: unknown state 'Nowhere'" in problems
    assert "States.M.ItemProcessor.States.Y: needs Next or End" in problems


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (
            {"Type": "Map", "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}, "ItemProcessor": {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}, "End": True},
            "States.S.ItemReader: Distributed Map (ItemReader) is not supported by the local interpreter",
        ),
        (
            {"Type": "Map", "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}, "End": True},
            "States.S.ItemProcessor.ProcessorConfig.Mode: Distributed Map is not supported by the local interpreter",
        ),
        (
            {"Type": "Map", "ResultWriter": {}, "ItemBatcher": {}, "ItemProcessor": {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}, "End": True},
            "States.S.ResultWriter: Distributed Map (ResultWriter) is not supported by the local interpreter",
        ),
        (
            {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:approve", "End": True},
            "States.S.Resource: unsupported resource 'arn:aws:states:us-east-1:123456789012:activity:approve': "
            "activities are not supported by the local interpreter",
        ),
        (
            {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "Parameters": {}, "End": True},
            "States.S.Resource: unsupported resource 'arn:aws:states:::sqs:sendMessage': only the Lambda and Step "
            "Functions (startExecution) integrations are supported by the local interpreter",
        ),
        (
            {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.sync", "Parameters": {"FunctionName": "f"}, "End": True},
            "States.S.Resource: unsupported resource 'arn:aws:states:::lambda:invoke.sync'",
        ),
    ],
)
def test_unsupported_features_fail_at_load_time(state, expected):
    # Given a state using a feature the local interpreter does not have
    # When loaded, Then the problem names the state and the field
    problems = problems_of({"StartAt": "S", "States": {"S": state}})
    assert any(problem.startswith(expected) for problem in problems), problems


def test_field_values_are_checked():
    # Given many wrongly typed or invalid fields
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": FN,
                "TimeoutSeconds": 10,
                "HeartbeatSeconds": 20,
                "InputPath": "no-dollar",
                "Parameters": {"x.$": "$..[", "y.$": "States.Format('{}' $.a)"},
                "Retry": [
                    {"ErrorEquals": ["States.ALL"]},
                    {"ErrorEquals": ["Other", "States.Timout"], "BackoffRate": 0.5},
                ],
                "Catch": [{"ErrorEquals": ["States.ALL", "Other"], "Next": "W"}],
                "Next": "W",
            },
            "W": {"Type": "Wait", "Timestamp": "tomorrow", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": "1", "Next": "F"}]},
            "F": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"},
        },
    }

    # When loaded
    problems = problems_of(definition)

    # Then each is reported at its field
    expected = [
        "States.T.HeartbeatSeconds: must be smaller than TimeoutSeconds",
        "States.T.InputPath: invalid path 'no-dollar'",
        "States.T.Parameters.x.$: invalid path '$..['",
        "States.T.Parameters.y.$: invalid intrinsic function",
        "States.T.Retry[0].ErrorEquals: States.ALL must be in the last Retrier/Catcher",
        "States.T.Retry[1].BackoffRate: must be a number greater than or equal to 1.0",
        "States.T.Retry[1].ErrorEquals: unknown error name 'States.Timout'",
        "States.T.Catch[0].ErrorEquals: States.ALL must appear alone in ErrorEquals",
        "States.W.Timestamp: must be an RFC 3339 timestamp",
        "States.C.Choices[0].NumericEquals: must be a number",
        "States.F: has both Error and ErrorPath",
    ]
    for start in expected:
        assert any(problem.startswith(start) for problem in problems), (start, problems)


def test_lambda_invoke_parameters_are_checked():
    # Given lambda:invoke without FunctionName and with a parameter Lambda does not have
    definition = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"Payload.$": "$", "Color": "red"}, "End": True}},
    }

    # When loaded, Then both are reported
    problems = problems_of(definition)
    assert "States.T.Parameters.FunctionName: missing (lambda:invoke needs the function to call)" in problems
    assert "States.T.Parameters.Color: not a parameter of lambda:invoke" in problems


def test_fields_of_the_other_query_language_are_rejected():
    # Given a JSONPath state using JSONata's Output
    problems = problems_of({"StartAt": "P", "States": {"P": {"Type": "Pass", "Output": {}, "End": True}}})

    # Then the field is named with the reason
    assert problems == ["States.P.Output: not allowed in a JSONPath state"]


def test_definition_substitutions_fill_resource_placeholders(functions):
    # Given a SAM-style definition with a ${...} placeholder
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "${WorkFunctionArn}", "End": True}}}

    # When loaded without substitutions, Then the placeholder is a problem
    assert problems_of(definition) == [
        "States.T.Resource: unresolved placeholder '${WorkFunctionArn}' (pass substitutions=...)"
    ]
    # When loaded with them, Then the resource is the function ARN
    machine = load_state_machine(definition, substitutions={"WorkFunctionArn": FN})
    assert machine.graph.states["T"].resource == FN


def test_json_text_is_accepted_and_bad_json_is_reported():
    # Given the definition as JSON text, When loaded, Then it compiles
    text = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
    assert load_state_machine(text).graph.start_at == "A"
    # Given broken JSON text, Then the problem says so
    assert problems_of("{not json")[0].startswith("definition: not valid JSON")
