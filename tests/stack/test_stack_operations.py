"""template.yaml as an operator deploys it: names, secrets, network, dead letters and alarms."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from cfn_intrinsics import ACCOUNT, REGION, Evaluator
from stack_tools import load_template

from orchestrator.settings import Settings, secret_reference_kind

TEMPLATE = load_template()
TEMPLATE_DIR = Path(__file__).resolve().parents[2]
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = sorted(name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::Serverless::Function")
#: every function but the one that runs tenants' scripts opens the store
STORE_FUNCTIONS = [name for name in FUNCTIONS if name != "ScriptRunnerFunction"]


def _properties(logical_id: str) -> dict[str, Any]:
    return RESOURCES[logical_id]["Properties"]


def _variables(logical_id: str) -> dict[str, Any]:
    return {**TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
            **_properties(logical_id).get("Environment", {}).get("Variables", {})}


def test_nothing_has_a_fixed_name_that_a_second_stack_would_collide_with() -> None:
    for name in FUNCTIONS:
        assert "FunctionName" not in _properties(name), f"{name}: a fixed FunctionName"
    text = json.dumps(TEMPLATE)
    # names derived from the old fixed ones (log groups, execution ARNs) follow the resources instead
    assert not re.search(r"orchestrator-(step-runner|pause-gate|api|scheduler|workflow)-\$\{Stage\}", text)
    assert _properties("StepRunnerLogGroup")["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${StepRunnerFunction}"}


def test_the_pause_gate_may_answer_task_tokens_of_the_workflow_state_machine() -> None:
    policy = _properties("PauseGateCallbackPolicy")
    assert policy["Roles"] == [{"Ref": "PauseGateFunctionRole"}]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert set(statement["Action"]) == {"states:SendTaskSuccess", "states:SendTaskFailure"}
    assert statement["Resource"] == {"Ref": "WorkflowStateMachine"}


def test_the_workflow_state_machine_may_run_its_plan_parts_as_child_executions_of_itself() -> None:
    # statemachines/workflow.asl.json's RunPart: startExecution.sync:2 of $$.StateMachine.Id
    definition = json.loads((TEMPLATE_DIR / "statemachines" / "workflow.asl.json").read_text())
    run_part = definition["States"]["RunParts"]["ItemProcessor"]["States"]["RunPart"]
    assert run_part["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    policy = _properties("WorkflowPartsPolicy")
    assert policy["Roles"] == [{"Ref": "WorkflowStateMachineRole"}]
    grants = {action: statement["Resource"] for statement in policy["PolicyDocument"]["Statement"]
              for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}
    assert grants["states:StartExecution"] == {"Ref": "WorkflowStateMachine"}
    assert "${WorkflowStateMachine.Name}:*" in grants["states:DescribeExecution"]["Fn::Sub"]
    assert {"events:PutTargets", "events:PutRule", "events:DescribeRule"} <= set(grants)
    assert grants["events:PutRule"]["Fn::Sub"].endswith("rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")


# --- the MongoDB URI: a secret or a SecureString parameter, never a plain variable ------------------------

MONGODB_URI_SECRETS = [
    f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:orchestrator/prod/mongodb-AbCdEf",
    f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/orchestrator/prod/mongodb-uri",
    "/orchestrator/prod/mongodb-uri",
    "orchestrator/prod/mongodb",
]


@pytest.mark.parametrize("secret_id", MONGODB_URI_SECRETS)
def test_the_store_functions_may_read_the_secret_the_settings_will_read(secret_id: str) -> None:
    # Given the stack deployed with this id, which the parameter accepts
    assert re.fullmatch(TEMPLATE["Parameters"]["MongoDbUriSecret"]["AllowedPattern"], secret_id)
    evaluator = Evaluator(TEMPLATE, {"MongoDbUriSecret": secret_id})
    # Then the template reads it from the service the Python side will ask (settings.secret_reference_kind)
    kind = secret_reference_kind(secret_id)
    assert evaluator.condition("MongoDbUriInSecretsManager") == (kind == "secretsmanager")
    [read, decrypt] = evaluator.value(_properties("StoreSecretReadPolicy")["PolicyDocument"]["Statement"])
    if kind == "secretsmanager":
        arn = secret_id if secret_id.startswith("arn:") else (
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret_id}-XyZ123")
        assert read["Action"] == "secretsmanager:GetSecretValue"
    else:
        arn = secret_id if secret_id.startswith("arn:") else f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{secret_id}"
        assert read["Action"] == "ssm:GetParameter"
    # And that one secret, not its neighbours
    assert fnmatchcase(arn, read["Resource"]), (arn, read["Resource"])
    assert not fnmatchcase(arn.replace("prod", "dev"), read["Resource"])
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"]["StringLike"]["kms:ViaService"] == f"{'ssm' if kind == 'ssm' else 'secretsmanager'}.*.amazonaws.com"


@pytest.mark.parametrize("plain", ["mongodb://user:pw@db:27017/orchestrator", "arn:aws:s3:::bucket", "a b"])
def test_a_value_that_is_no_secret_id_is_refused_by_the_parameter(plain: str) -> None:
    assert not re.fullmatch(TEMPLATE["Parameters"]["MongoDbUriSecret"]["AllowedPattern"], plain)


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_each_function_gets_the_id_of_the_uri_secret_only_if_it_opens_the_store(logical_id: str) -> None:
    variables = _variables(logical_id)
    policies = _properties(logical_id).get("Policies", [])
    if logical_id in STORE_FUNCTIONS:
        assert variables["ORCHESTRATOR_MONGODB_URI_SECRET_ID"] == {"Ref": "MongoDbUriSecret"}
        assert "ORCHESTRATOR_MONGODB_URI" not in variables
        assert {"Ref": "StoreSecretReadPolicy"} in policies, f"{logical_id} cannot read the URI"
    else:
        # the script runner: an in-memory store, no secret id, no policy, no VPC
        assert variables["ORCHESTRATOR_MONGODB_URI_SECRET_ID"] == ""
        assert variables["ORCHESTRATOR_STORE"] == "memory"
        assert policies == [] and _properties(logical_id)["VpcConfig"] == {"Ref": "AWS::NoValue"}
    for name in variables:
        if name.startswith("ORCHESTRATOR_"):
            assert name.removeprefix("ORCHESTRATOR_").lower() in Settings.model_fields, f"{logical_id}: {name}"


def test_the_plain_uri_parameter_is_gone() -> None:
    assert "MongoDbUri" not in TEMPLATE["Parameters"]


# --- the bootstrap admin key ----------------------------------------------------------------------------


def test_the_admin_key_is_generated_and_only_the_api_may_read_it() -> None:
    generated = _properties("AdminKeySecret")["GenerateSecretString"]
    assert generated == {"ExcludePunctuation": True, "PasswordLength": 48}
    assert _variables("ApiFunction")["ORCHESTRATOR_ADMIN_KEY_SECRET_ID"] == {"Ref": "AdminKeySecret"}
    assert {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "AdminKeySecret"}}} in (
        _properties("ApiFunction")["Policies"])
    for name in FUNCTIONS:
        if name != "ApiFunction":
            assert "AdminKeySecret" not in json.dumps(RESOURCES[name]), name
    outputs = TEMPLATE["Outputs"]
    assert outputs["AdminKeySecretArn"]["Value"] == {"Ref": "AdminKeySecret"}
    assert outputs["GetAdminKeyCommand"]["Value"] == {"Fn::Sub": "aws secretsmanager get-secret-value --secret-id "
                                                      "${AdminKeySecret} --query SecretString --output text"}


# --- the network -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("subnets", "in_vpc"), [([""], False), (["subnet-1", "subnet-2"], True)])
def test_the_functions_join_a_vpc_only_when_subnets_are_given(subnets: list[str], in_vpc: bool) -> None:
    evaluator = Evaluator(TEMPLATE, {"SubnetIds": subnets, "SecurityGroupIds": ["sg-1"]})
    assert evaluator.condition("InVpc") is in_vpc
    vpc = evaluator.value({"VpcConfig": TEMPLATE["Globals"]["Function"]["VpcConfig"]})
    assert vpc == ({"VpcConfig": {"SubnetIds": subnets, "SecurityGroupIds": ["sg-1"]}} if in_vpc else {})


@pytest.mark.parametrize(("subnets", "groups", "allowed"), [
    ([""], [""], True), (["subnet-1"], ["sg-1"], True), (["subnet-1"], [""], False)])
def test_subnets_without_security_groups_are_refused_before_anything_is_made(
    subnets: list[str], groups: list[str], allowed: bool,
) -> None:
    rule = TEMPLATE["Rules"]["VpcNeedsSecurityGroups"]
    evaluator = Evaluator(TEMPLATE, {"SubnetIds": subnets, "SecurityGroupIds": groups})
    applies = evaluator.value(rule["RuleCondition"])
    assert (not applies or all(evaluator.value(item["Assert"]) for item in rule["Assertions"])) is allowed


# --- dead letters, retries, alarms ---------------------------------------------------------------------


def test_schedules_and_rules_dead_letter_to_a_queue_they_may_send_to() -> None:
    assert _variables("ApiFunction")["ORCHESTRATOR_TRIGGER_DLQ_ARN"] == {"Fn::GetAtt": ["TriggerDeadLetterQueue", "Arn"]}
    assert "trigger_dlq_arn" in Settings.model_fields
    policy = _properties("TriggerDeadLetterQueuePolicy")
    assert policy["Queues"] == [{"Ref": "TriggerDeadLetterQueue"}]
    statements = policy["PolicyDocument"]["Statement"]
    assert {statement["Principal"]["Service"] for statement in statements} == {"events.amazonaws.com",
                                                                                "scheduler.amazonaws.com"}
    for statement in statements:
        assert (statement["Effect"], statement["Action"]) == ("Allow", "sqs:SendMessage")
        assert statement["Resource"] == {"Fn::GetAtt": ["TriggerDeadLetterQueue", "Arn"]}
        assert statement["Condition"], "any account's rules or schedules could fill it"
    # EventBridge Scheduler sends a schedule's dead letters with the schedule's own role
    scheduler_statements = _properties("SchedulerRole")["Policies"][0]["PolicyDocument"]["Statement"]
    assert {"Effect": "Allow", "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["TriggerDeadLetterQueue", "Arn"]}} in scheduler_statements


@pytest.mark.parametrize(("alarm", "namespace", "metric", "dimension"), [
    ("DeadLetterQueueAlarm", "AWS/SQS", "ApproximateNumberOfMessagesVisible",
     {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}),
    ("TriggerDeadLetterQueueAlarm", "AWS/SQS", "ApproximateNumberOfMessagesVisible",
     {"Fn::GetAtt": ["TriggerDeadLetterQueue", "QueueName"]}),
    ("WorkflowExecutionsFailedAlarm", "AWS/States", "ExecutionsFailed", {"Ref": "WorkflowStateMachine"}),
    ("WorkflowExecutionsTimedOutAlarm", "AWS/States", "ExecutionsTimedOut", {"Ref": "WorkflowStateMachine"}),
])
def test_an_alarm_goes_off_at_the_first_occurrence_and_notifies_the_topic(
    alarm: str, namespace: str, metric: str, dimension: dict[str, Any],
) -> None:
    properties = _properties(alarm)
    assert (properties["Namespace"], properties["MetricName"]) == (namespace, metric)
    [only] = properties["Dimensions"]
    assert only["Value"] == dimension
    assert (properties["ComparisonOperator"], properties["Threshold"]) == ("GreaterThanThreshold", 0)
    assert properties["TreatMissingData"] == "notBreaching"
    assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_an_alarm_email_is_subscribed_only_when_given() -> None:
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert Evaluator(TEMPLATE, {}).condition("HasAlarmEmail") is False
    assert Evaluator(TEMPLATE, {"AlarmEmail": "ops@example.com"}).condition("HasAlarmEmail") is True


# --- the event bus -------------------------------------------------------------------------------------


def test_the_stack_creates_the_event_bus_only_when_asked_and_never_the_default_one() -> None:
    bus = RESOURCES["EventBus"]
    assert bus["Condition"] == "CreatesEventBus" and bus["Properties"]["Name"] == {"Ref": "EventBusName"}
    assert Evaluator(TEMPLATE, {}).condition("CreatesEventBus") is False
    assert Evaluator(TEMPLATE, {"CreateEventBus": "true", "EventBusName": "orders"}).condition("CreatesEventBus")
    [assertion] = TEMPLATE["Rules"]["CreatedBusIsCustom"]["Assertions"]
    for bus_name, allowed in (("default", False), ("orders", True)):
        assert Evaluator(TEMPLATE, {"EventBusName": bus_name}).value(assertion["Assert"]) is allowed


# --- the architecture ----------------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_functions_and_their_layer_share_the_chosen_architecture(architecture: str) -> None:
    evaluator = Evaluator(TEMPLATE, {"Architecture": architecture})
    globals_ = TEMPLATE["Globals"]["Function"]
    assert evaluator.value(globals_["Architectures"]) == [architecture]
    [layer_ref] = evaluator.value(globals_["Layers"])
    layer = RESOURCES[layer_ref.strip("<>")]
    assert evaluator.condition(layer["Condition"])
    assert layer["Properties"]["CompatibleArchitectures"] == [architecture]
    assert layer["Metadata"] == {"BuildMethod": "makefile"}
