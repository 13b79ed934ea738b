"""The StateMachines port on Step Functions (moto): idempotent starts, describe/stop, task tokens."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from orchestrator.adapters.aws.step_functions import StepFunctionsStateMachines, execution_arn
from orchestrator.ports.state_machines import (
    ExecutionNameConflict,
    ExecutionNotFound,
    StateMachineNotFound,
    TaskNotFound,
)

REGION = "us-east-1"  # the aws fixture's region
ACCOUNT = "123456789012"  # moto's account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/orchestrator-sfn"
PASS_DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}


def create_machine(definition: dict, name: str = "workflow") -> str:
    client = boto3.client("stepfunctions")
    return client.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]


def executions_of(machine: str) -> list[dict]:
    return boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]


def wait_until_finished(machines: StepFunctionsStateMachines, arn: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        described = machines.describe_execution(arn)
        if described.status != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.02)


@pytest.fixture
def machines(aws) -> StepFunctionsStateMachines:
    return StepFunctionsStateMachines(region=REGION)


def test_start_then_describe(machines):
    # Given a state machine / When an execution named after the execution id starts
    machine = create_machine(PASS_DEFINITION)
    arn = machines.start_execution(machine, "exec-1", {"workflow": "nightly", "input": {"n": 1}})
    # Then its ARN is the one Step Functions derives from the name, and it describes as started
    assert arn == execution_arn(machine, "exec-1") == f"arn:aws:states:{REGION}:{ACCOUNT}:execution:workflow:exec-1"
    described = machines.describe_execution(arn)
    assert (described.name, described.state_machine, described.status) == ("exec-1", machine, "RUNNING")
    assert described.input == {"workflow": "nightly", "input": {"n": 1}}
    assert described.stop_date is None


def test_starting_the_same_execution_twice_is_one_run(machines):
    # Given a running execution (a redelivered queue message starts it again, keys in another order)
    machine = create_machine(PASS_DEFINITION)
    first = machines.start_execution(machine, "exec-1", {"a": 1, "b": 2})
    # When it is started again with the same input
    second = machines.start_execution(machine, "exec-1", {"b": 2, "a": 1})
    # Then the same execution comes back and there is still one
    assert second == first
    assert len(executions_of(machine)) == 1


def test_starting_a_finished_execution_again_returns_it(machines):
    # Given an execution that already ended (Step Functions answers ExecutionAlreadyExists then)
    machine = create_machine(PASS_DEFINITION)
    arn = machines.start_execution(machine, "exec-1", {"a": 1})
    machines.stop_execution(arn)
    # When the same start comes again / Then it returns that execution, no second run
    assert machines.start_execution(machine, "exec-1", {"a": 1}) == arn
    assert len(executions_of(machine)) == 1


def test_the_same_name_with_another_input_is_a_conflict(machines):
    machine = create_machine(PASS_DEFINITION)
    arn = machines.start_execution(machine, "exec-1", {"a": 1})
    machines.stop_execution(arn)
    with pytest.raises(ExecutionNameConflict, match="'exec-1' is taken") as raised:
        machines.start_execution(machine, "exec-1", {"a": 2})
    assert raised.value.execution_arn == arn
    assert len(executions_of(machine)) == 1


def test_stop_aborts_the_execution(machines):
    # Given a running execution / When stopped with an error and a cause / Then it is ABORTED, with a stop date
    machine = create_machine(PASS_DEFINITION)
    arn = machines.start_execution(machine, "exec-1", {})
    machines.stop_execution(arn, error="Cancelled", cause="cancelled by alice")
    described = machines.describe_execution(arn)
    assert described.status == "ABORTED"
    assert described.stop_date is not None


def test_unknown_things_are_named(machines):
    machine = create_machine(PASS_DEFINITION)
    missing = execution_arn(machine, "nope")
    with pytest.raises(ExecutionNotFound, match="nope"):
        machines.describe_execution(missing)
    with pytest.raises(ExecutionNotFound):
        machines.stop_execution(missing)
    with pytest.raises(StateMachineNotFound, match="ghost"):
        machines.start_execution(machine.replace("workflow", "ghost"), "exec-1", {})


def test_a_finished_execution_has_its_output(aws_executing):
    # Given moto running state machines / When a Pass machine runs / Then the output is parsed JSON
    machines = StepFunctionsStateMachines()
    arn = machines.start_execution(create_machine(PASS_DEFINITION), "exec-1", {})
    described = wait_until_finished(machines, arn)
    assert (described.status, described.output, described.error) == ("SUCCEEDED", {"ok": True}, None)


@pytest.fixture
def approval_gate(aws_executing):
    """A machine whose one task waits for a token, delivered through an SQS queue (as approval gates do)."""
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    definition = {"StartAt": "Approve", "States": {"Approve": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "HeartbeatSeconds": 60,
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}, "End": True}}}
    machines = StepFunctionsStateMachines()
    arn = machines.start_execution(create_machine(definition, "delivery"), "exec-1", {})
    deadline = time.monotonic() + 5
    while not (messages := sqs.receive_message(QueueUrl=queue).get("Messages")):
        assert time.monotonic() < deadline, "the task never sent its token"
        time.sleep(0.02)
    return machines, arn, json.loads(messages[0]["Body"])["token"]


def test_task_success_completes_the_waiting_task(approval_gate):
    machines, arn, token = approval_gate
    # Given a task waiting for its token / When a heartbeat, then success with an output come
    machines.send_task_heartbeat(token)
    machines.send_task_success(token, {"approved": True, "by": "alice"})
    # Then the execution succeeds with that output
    described = wait_until_finished(machines, arn)
    assert (described.status, described.output) == ("SUCCEEDED", {"approved": True, "by": "alice"})
    # and the token is spent
    with pytest.raises(TaskNotFound):
        machines.send_task_success(token, {})


def test_task_failure_fails_the_execution(approval_gate):
    machines, arn, token = approval_gate
    machines.send_task_failure(token, error="Rejected", cause="not this week")
    described = wait_until_finished(machines, arn)
    assert (described.status, described.error) == ("FAILED", "Rejected")


def test_an_unknown_token_is_task_not_found(aws_executing):
    with pytest.raises(TaskNotFound, match="InvalidToken"):
        StepFunctionsStateMachines().send_task_success("no-such-token", {})


@pytest.mark.parametrize("arn", ["arn:aws:states:us-east-1:1:activity:x", "not-an-arn"])
def test_execution_arn_needs_a_state_machine_arn(arn):
    with pytest.raises(ValueError, match="is not a state machine ARN"):
        execution_arn(arn, "exec-1")


def test_execution_arn_of_a_version():
    version = "arn:aws:states:us-east-1:123456789012:stateMachine:workflow:3"
    assert execution_arn(version, "e") == "arn:aws:states:us-east-1:123456789012:execution:workflow:e"
