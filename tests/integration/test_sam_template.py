"""template.yaml: valid for CloudFormation + SAM, and coherent with functions/, statemachines/ and events/."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from stack.stack_tools import load_template

from orchestrator.adapters.aws.event_rules import EventBridgeRules
from orchestrator.adapters.local.lambdas import LocalLambdas
from orchestrator.adapters.local.sam_template import load_sam_template
from orchestrator.asl import load_state_machine
from orchestrator.settings import Settings

PROJECT = Path(__file__).resolve().parents[2]
TEMPLATE = load_sam_template(PROJECT / "template.yaml")

#: every function's sample event (sam local invoke -e, and the handler tests)
SAMPLE_EVENTS = {
    "StepRunnerFunction": "step_runner_event.json",
    "PlanReaderFunction": "plan_reader_event.json",
    "PauseGateFunction": "pause_gate_event.json",
    "SchedulerFunction": "scheduler_sqs_event.json",
    "ExecutionEventsFunction": "execution_status_change_event.json",
    "ReconcilerFunction": "reconciler_event.json",
    "TriggerFunction": "trigger_schedule_event.json",
    "ApiFunction": "api_list_workflows_event.json",
    "ScriptRunnerFunction": "script_runner_event.json",
}


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.functions))
def test_every_function_has_its_handler_and_a_sample_event(logical_id: str) -> None:
    spec = TEMPLATE.functions[logical_id]
    handler = LocalLambdas(TEMPLATE).handler(logical_id)
    assert callable(handler), f"{spec.code_dir}/{spec.handler}"
    sample = PROJECT / "events" / SAMPLE_EVENTS[logical_id]
    assert isinstance(json.loads(sample.read_text()), dict)


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.state_machines))
def test_state_machines_load_and_every_task_retries_explicitly(logical_id: str) -> None:
    definition = TEMPLATE.definition(logical_id)
    load_state_machine(definition, name=logical_id)  # raises, listing every problem
    tasks = list(_tasks(definition))
    assert tasks, "a state machine without Lambda tasks needs no template"
    for name, task in tasks:
        assert task.get("Retry"), f"{logical_id}: Task '{name}' has no explicit Retry"
        assert "${" not in json.dumps(task), f"{logical_id}: '{name}' has an unresolved substitution"


def test_every_lambda_arn_comes_through_definition_substitutions() -> None:
    for spec in TEMPLATE.state_machines.values():
        raw = spec.definition_path.read_text()
        assert "arn:aws:lambda" not in raw, f"{spec.definition_path.name} hard-codes a function ARN"


def _tasks(states_owner: dict[str, Any]):
    for name, state in states_owner.get("States", {}).items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _tasks(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _tasks(state[key])


# --- the control plane's cloud wiring: what the adapters read from the environment, and may do -----------


DOCUMENT: dict[str, Any] = load_template(PROJECT / "template.yaml")
RESOURCES: dict[str, Any] = DOCUMENT["Resources"]
ACCOUNT, REGION = "123456789012", "eu-west-1"


def _properties(logical_id: str) -> dict[str, Any]:
    return RESOURCES[logical_id]["Properties"]


def _environment(function: str) -> dict[str, Any]:
    return _properties(function).get("Environment", {}).get("Variables", {})


def _policy(function: str, name: str) -> dict[str, Any]:
    [found] = [policy[name] for policy in _properties(function)["Policies"] if name in policy]
    return found


def _statements(function: str) -> list[dict[str, Any]]:
    return [statement for policy in _properties(function)["Policies"] for statement in policy.get("Statement", [])]


def _resolve(value: Any, parameters: dict[str, str]) -> Any:
    """Enough of CloudFormation's intrinsics (Ref of parameters, Sub, If on Equals) for these tests."""
    names = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, **parameters}
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return names[value["Ref"]]
    if "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        left, right = (_resolve(side, parameters) for side in DOCUMENT["Conditions"][condition]["Fn::Equals"])
        return _resolve(when_true if left == right else when_false, parameters)
    if "Fn::Sub" in value:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        scope = {**names, **{name: _resolve(v, parameters) for name, v in variables.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda match: scope[match.group(1)], text)
    raise AssertionError(f"cannot resolve {value}")


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.functions))
def test_every_orchestrator_variable_names_a_setting(logical_id: str) -> None:
    variables = {**DOCUMENT["Globals"]["Function"]["Environment"]["Variables"], **_environment(logical_id)}
    for name in variables:
        if name.startswith("ORCHESTRATOR_"):
            assert name.removeprefix("ORCHESTRATOR_").lower() in Settings.model_fields, f"{logical_id}: {name}"


def test_the_api_arms_event_rules_on_the_configured_bus_targeting_the_trigger_function() -> None:
    environment = _environment("ApiFunction")
    assert environment["ORCHESTRATOR_EVENT_BUS_NAME"] == {"Ref": "EventBusName"}
    assert environment["ORCHESTRATOR_SCHEDULE_TARGET_ARN"] == {"Fn::GetAtt": ["TriggerFunction", "Arn"]}
    assert environment["ORCHESTRATOR_SCHEDULE_NAME_PREFIX"] == {"Fn::Sub": "orchestrator-${Stage}-"}
    assert DOCUMENT["Parameters"]["EventBusName"]["Default"] == "default"
    [rules] = [statement for statement in _statements("ApiFunction") if "events:PutRule" in statement["Action"]]
    assert rules["Effect"] == "Allow"
    assert set(rules["Action"]) == {"events:PutRule", "events:PutTargets", "events:RemoveTargets",
                                    "events:DeleteRule", "events:DescribeRule"}
    permission = RESOURCES["TriggerFunctionEventRulesPermission"]
    assert permission["Type"] == "AWS::Lambda::Permission"
    assert permission["Properties"]["Action"] == "lambda:InvokeFunction"
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"
    assert permission["Properties"]["FunctionName"] == {"Fn::GetAtt": ["TriggerFunction", "Arn"]}
    assert permission["Properties"]["SourceAccount"] == {"Ref": "AWS::AccountId"}


@pytest.mark.parametrize(("bus", "rule_arn_path"), [("default", "rule/"),
                                                    ("orchestrator-events", "rule/orchestrator-events/")])
def test_the_rules_the_api_makes_are_the_ones_it_may_manage_and_that_may_invoke_the_trigger_function(
    bus: str, rule_arn_path: str,
) -> None:
    # Given the stack deployed as stage "prod" on a bus
    parameters = {"Stage": "prod", "EventBusName": bus}
    environment = _environment("ApiFunction")
    settings = Settings(schedule_target_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:orchestrator-trigger",
                        event_bus_name=_resolve(environment["ORCHESTRATOR_EVENT_BUS_NAME"], parameters),
                        schedule_name_prefix=_resolve(environment["ORCHESTRATOR_SCHEDULE_NAME_PREFIX"], parameters))
    # When the API names the rule of an event trigger as the adapter does
    rules = EventBridgeRules.from_settings(settings, client=object())
    assert rules.bus_name == bus
    arn = f"arn:aws:events:{REGION}:{ACCOUNT}:{rule_arn_path}{rules.rule_name('t-42')}"
    other_stage = arn.replace("orchestrator-prod-", "orchestrator-dev-")
    # Then its ARN (.../rule/<name> on the default bus, .../rule/<bus>/<name> on another) is within the
    # API's events statement and the TriggerFunction's permission, and another stage's rules are not
    [rules_statement] = [s for s in _statements("ApiFunction") if "events:PutRule" in s["Action"]]
    source_arn = _properties("TriggerFunctionEventRulesPermission")["SourceArn"]
    for pattern in (_resolve(rules_statement["Resource"], parameters), _resolve(source_arn, parameters)):
        assert fnmatchcase(arn, pattern), (arn, pattern)
        assert not fnmatchcase(other_stage, pattern)
    if bus != "default":
        assert not fnmatchcase(arn.replace(f"/{bus}/", "/"), _resolve(source_arn, parameters))


def test_large_step_outputs_go_to_a_private_expiring_bucket_that_the_api_can_read() -> None:
    bucket = _properties("BlobBucket")
    assert RESOURCES["BlobBucket"]["Type"] == "AWS::S3::Bucket"
    [encryption] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    [expiry] = bucket["LifecycleConfiguration"]["Rules"]
    assert expiry["Status"] == "Enabled" and expiry["ExpirationInDays"] == {"Ref": "BlobRetentionDays"}
    assert DOCUMENT["Parameters"]["BlobRetentionDays"]["Default"] == 90
    # the step runner writes outputs there and the API reads them back (GET .../step-executions/{id}/output)
    for function, policy in (("StepRunnerFunction", "S3CrudPolicy"), ("ApiFunction", "S3ReadPolicy")):
        assert _environment(function)["ORCHESTRATOR_BLOB_BUCKET"] == {"Ref": "BlobBucket"}, function
        assert _policy(function, policy) == {"BucketName": {"Ref": "BlobBucket"}}, function


def test_the_script_runner_has_no_permissions_and_no_secrets() -> None:
    # Given the function that runs tenants' scripts in the cloud
    resources = DOCUMENT["Resources"]
    function = resources["ScriptRunnerFunction"]["Properties"]
    # Then its role is its own, with no policy of any kind (not even logs), and SAM adds none
    assert function["Role"] == {"Fn::GetAtt": ["ScriptRunnerRole", "Arn"]} and "Policies" not in function
    role = resources["ScriptRunnerRole"]["Properties"]
    assert set(role) == {"AssumeRolePolicyDocument"}
    # And every global variable that names a store or a secret is blanked in its environment
    variables = {**DOCUMENT["Globals"]["Function"]["Environment"]["Variables"], **_environment("ScriptRunnerFunction")}
    assert variables["ORCHESTRATOR_MONGODB_URI_SECRET_ID"] == "" and variables["ORCHESTRATOR_SECRETS_PATH_PREFIX"] == ""
    assert variables.get("ORCHESTRATOR_MONGODB_URI", "") == ""
    # And the StepRunner may invoke it and knows its name
    step_runner = resources["StepRunnerFunction"]["Properties"]
    assert {"LambdaInvokePolicy": {"FunctionName": {"Ref": "ScriptRunnerFunction"}}} in step_runner["Policies"]
    assert step_runner["Environment"]["Variables"]["ORCHESTRATOR_SCRIPT_RUNNER_FUNCTION"] == {"Ref": "ScriptRunnerFunction"}
