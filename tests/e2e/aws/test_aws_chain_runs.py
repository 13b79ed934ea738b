"""The whole AWS chain on moto: API -> SQS -> Scheduler -> Step Functions -> StepRunner (-> ScriptRunner)
-> ExecutionEvents -> API, each function the real handler with template.yaml's environment."""

from __future__ import annotations

import json

import boto3

from support.aws_chain import (
    REGION,
    AwsChain,
    deploy,
    execute,
    execution,
    history_types,
    steps_by_id,
)

DOUBLE = "import json, sys\nd = json.load(sys.stdin)\nprint(json.dumps({'doubled': [x * 2 for x in d['orders']]}))\n"


def _queue_depth(chain: AwsChain, logical_id: str) -> int:
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=chain.queue_url(logical_id),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_an_execution_started_through_the_api_completes_through_every_function(chain: AwsChain) -> None:
    # Given a workflow: a condition, a script (run by the ScriptRunner function) and a condition on its output
    workflow_id = deploy(chain, {"name": "orders", "steps": [
        {"id": "check", "type": "condition", "config": {"expression": "len(input.orders) > 2"}},
        {"id": "double", "type": "script", "depends_on": ["check"],
         "config": {"runtime": "python", "code": DOUBLE}, "input_mapping": {"orders": "{{input.orders}}"}},
        {"id": "big", "type": "condition", "depends_on": ["double"],
         "config": {"expression": "steps.double.output.doubled[2] >= 30"}},
    ]})
    before = chain.invocation_counts()
    # When it is executed through the ApiFunction, and the queue, Step Functions and the status change flow
    execution_id = execute(chain, workflow_id, {"orders": [3, 8, 15, 4]})
    assert chain.pump_queues() == 1
    described = chain.wait_for_machine(execution_id)
    assert execution(chain, execution_id)["status"] == "running"  # the state machine ended; nobody said so yet
    recorded = chain.report_status_change(execution_id)
    # Then the state machine named after the execution succeeded, and the API shows it completed
    assert described["status"] == "SUCCEEDED", described
    assert described["name"] == execution_id
    assert recorded == {"execution_id": execution_id, "recorded": True}
    detail = execution(chain, execution_id)
    assert detail["status"] == "completed", detail
    assert detail["output"] == {"check": {"result": True, "value": True}, "double": {"doubled": [6, 16, 30, 8]},
                                "big": {"result": True, "value": True}}
    steps = steps_by_id(detail)
    assert {step_id: (s["status"], s["attempt"]) for step_id, s in steps.items()} == {
        "check": ("succeeded", 1), "double": ("succeeded", 1), "big": ("succeeded", 1)}
    # And each function ran as often as the chain needs: one step runner per step, one script runner
    ran = chain.invocation_counts() - before
    assert ran["SchedulerFunction"] == 1
    assert ran["StepRunnerFunction"] == 3
    assert ran["ScriptRunnerFunction"] == 1
    assert ran["ExecutionEventsFunction"] == 1
    assert ran["PauseGateFunction"] == 0
    # And nothing is left on the queues or dead-lettered
    assert [_queue_depth(chain, q) for q in ("TaskQueue", "HighPriorityQueue", "DeadLetterQueue")] == [0, 0, 0]


def test_an_urgent_execution_goes_through_the_high_priority_queue(chain: AwsChain) -> None:
    # Given a workflow
    workflow_id = deploy(chain, {"name": "urgent", "steps": [
        {"id": "only", "type": "condition", "config": {"expression": "true"}}]})
    # When it is executed with a priority at the high-priority threshold
    execution_id = execute(chain, workflow_id, priority=9)
    # Then its message waits on the HighPriorityQueue, not the TaskQueue
    assert (_queue_depth(chain, "HighPriorityQueue"), _queue_depth(chain, "TaskQueue")) == (1, 0)
    # And it runs to completion from there
    assert chain.run_to_end(execution_id)["status"] == "SUCCEEDED"
    assert execution(chain, execution_id)["status"] == "completed"


def test_a_redelivered_queue_message_starts_no_second_run(chain: AwsChain) -> None:
    # Given an execution that ran to completion
    workflow_id = deploy(chain, {"name": "once", "steps": [
        {"id": "only", "type": "condition", "config": {"expression": "true"}}]})
    execution_id = execute(chain, workflow_id)
    chain.run_to_end(execution_id)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = chain.physical["WorkflowStateMachine"]["Ref"]
    runs_before = len(sfn.list_executions(stateMachineArn=machine)["executions"])
    # When SQS delivers its message again (at-least-once delivery)
    boto3.client("sqs", region_name=REGION).send_message(
        QueueUrl=chain.queue_url("TaskQueue"), MessageBody=json.dumps({"execution_id": execution_id}))
    assert chain.pump_queues() == 1
    # Then no second state machine execution started, and the execution stays completed
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == runs_before
    assert execution(chain, execution_id)["status"] == "completed"


FLAKY = ("import json, os, sys\nattempt = int(os.environ['ORCHESTRATOR_ATTEMPT'])\n"
         "if attempt < 3:\n    print(f'attempt {attempt}: unavailable', file=sys.stderr)\n    sys.exit(75)\n"
         "print(json.dumps({'attempts': attempt}))\n")


def test_a_failing_step_is_retried_in_the_state_machines_wait_states(chain: AwsChain) -> None:
    # Given a step that fails twice (exit 75, temporary) and then succeeds, retried after 1 s each time
    workflow_id = deploy(chain, {"name": "flaky", "steps": [
        {"id": "flaky", "type": "script", "config": {"runtime": "python", "code": FLAKY},
         "retry": {"max_attempts": 3, "initial_delay": "1s", "backoff_factor": 1, "max_delay": "1s"}}]})
    before = chain.invocation_counts()
    # When it runs through the chain
    execution_id = execute(chain, workflow_id)
    described = chain.run_to_end(execution_id)
    # Then it completed on the third attempt
    assert described["status"] == "SUCCEEDED", described
    detail = execution(chain, execution_id)
    assert detail["status"] == "completed"
    assert detail["output"] == {"flaky": {"attempts": 3}}
    assert (steps_by_id(detail)["flaky"]["status"], steps_by_id(detail)["flaky"]["attempt"]) == ("succeeded", 3)
    # And the waits were the state machine's: two Wait states, one step runner invocation per attempt
    types = history_types(chain.history(execution_id))
    assert types["WaitStateEntered"] == 2
    ran = chain.invocation_counts() - before
    assert (ran["StepRunnerFunction"], ran["ScriptRunnerFunction"]) == (3, 3)


def test_a_step_that_keeps_failing_fails_the_execution_with_its_error(chain: AwsChain) -> None:
    # Given a step that always fails, retried once
    workflow_id = deploy(chain, {"name": "broken", "steps": [
        {"id": "broken", "type": "script", "config": {"runtime": "bash", "code": "echo nope >&2; exit 75"},
         "retry": {"max_attempts": 2, "initial_delay": "1s", "backoff_factor": 1, "max_delay": "1s"}},
        {"id": "after", "type": "condition", "depends_on": ["broken"], "config": {"expression": "true"}}]})
    # When it runs through the chain
    execution_id = execute(chain, workflow_id)
    described = chain.run_to_end(execution_id)
    # Then the state machine failed with the step's error, and so did the execution; the next step never ran
    assert described["status"] == "FAILED"
    detail = execution(chain, execution_id)
    assert detail["status"] == "failed"
    assert detail["error"] == described["error"]
    assert detail["error"].startswith("Script."), detail
    steps = steps_by_id(detail)
    assert (steps["broken"]["status"], steps["broken"]["attempt"]) == ("failed", 2)
    assert "after" not in steps or steps["after"]["status"] != "succeeded"


def _pause_before(chain: AwsChain, step_id: str) -> dict[str, str]:
    """Press pause (through the API) just before the StepRunner is invoked for ``step_id``."""
    paused: dict[str, str] = {}

    def press_pause(event: dict[str, object]) -> None:
        execution_id = str(event["execution"]["id"])  # type: ignore[index]
        response = chain.api("POST", f"/api/v1/executions/{execution_id}/pause")
        assert response.status == 200, response.body
        paused["status"] = response.body["status"]

    chain.before("StepRunnerFunction", lambda event: event["step"]["id"] == step_id, press_pause)
    return paused


PAUSABLE = {"name": "pausable", "steps": [
    {"id": "first", "type": "condition", "config": {"expression": "true"}},
    {"id": "second", "type": "condition", "depends_on": ["first"], "config": {"expression": "true"}}]}


def test_a_paused_execution_parks_at_the_pause_gate_and_resumes_through_the_task_token(chain: AwsChain) -> None:
    # Given an execution paused after its first step ran
    workflow_id = deploy(chain, PAUSABLE)
    paused = _pause_before(chain, "second")
    before = chain.invocation_counts()
    execution_id = execute(chain, workflow_id)
    chain.pump_queues()
    gate = chain.functions["PauseGateFunction"]
    parked_before = before["PauseGateFunction"]
    described = chain.wait_for_machine(execution_id, until=lambda: gate.invocations > parked_before)
    # Then the second step was parked at the pause gate: the state machine waits for its task token
    assert paused == {"status": "paused"}
    assert described["status"] == "RUNNING"
    detail = execution(chain, execution_id)
    assert detail["status"] == "paused"
    assert steps_by_id(detail)["first"]["status"] == "succeeded"
    assert steps_by_id(detail).get("second", {}).get("status") != "succeeded"
    # When it is resumed through the API
    resumed = chain.api("POST", f"/api/v1/executions/{execution_id}/resume")
    assert resumed.status == 200, resumed.body
    described = chain.wait_for_machine(execution_id)
    chain.report_status_change(execution_id)
    # Then the state machine went on from the gate and the execution completed
    assert described["status"] == "SUCCEEDED", described
    detail = execution(chain, execution_id)
    assert detail["status"] == "completed"
    assert {s["step_id"]: s["status"] for s in detail["steps"]} == {"first": "succeeded", "second": "succeeded"}
    types = history_types(chain.history(execution_id))
    assert types["TaskSubmitted"] >= 1 and types["TaskSucceeded"] >= 1
    ran = chain.invocation_counts() - before
    assert ran["PauseGateFunction"] == 1
    assert ran["StepRunnerFunction"] == 3  # first, second (answered "paused"), second again after resume


def test_a_paused_execution_cancelled_through_the_api_stops_its_state_machine(chain: AwsChain) -> None:
    # Given an execution parked at the pause gate
    workflow_id = deploy(chain, PAUSABLE)
    _pause_before(chain, "second")
    execution_id = execute(chain, workflow_id)
    chain.pump_queues()
    gate = chain.functions["PauseGateFunction"]
    parked_before = gate.invocations
    chain.wait_for_machine(execution_id, until=lambda: gate.invocations > parked_before)
    # When it is cancelled through the API
    cancelled = chain.api("POST", f"/api/v1/executions/{execution_id}/cancel")
    assert cancelled.status == 200, cancelled.body
    described = chain.wait_for_machine(execution_id)
    recorded = chain.report_status_change(execution_id)
    # Then the state machine ended. On AWS StopExecution aborts it at once (ABORTED) and the cancel's answer to
    # the parked token, sent after the stop, is refused; moto's StopExecution does not interrupt a task that
    # waits for its token, so there the answer ends it instead
    assert (described["status"], described.get("error")) in {("ABORTED", None), ("FAILED", "Orchestrator.Cancelled")}
    # And the execution is cancelled, and the late status change changes nothing
    assert recorded == {"execution_id": execution_id, "recorded": False}
    detail = execution(chain, execution_id)
    assert detail["status"] == "cancelled"
    assert steps_by_id(detail)["first"]["status"] == "succeeded"
    assert steps_by_id(detail).get("second", {}).get("status") != "succeeded"


def test_a_step_output_above_the_threshold_is_kept_in_s3_and_read_back_through_the_api(chain: AwsChain) -> None:
    # Given a step whose output is far above the blob threshold
    code = "import json\nprint(json.dumps({'rows': [{'id': n, 'name': f'row {n}'} for n in range(500)]}))\n"
    workflow_id = deploy(chain, {"name": "export", "steps": [
        {"id": "export", "type": "script", "config": {"runtime": "python", "code": code}}]})
    # When it runs through the chain
    execution_id = execute(chain, workflow_id)
    assert chain.run_to_end(execution_id)["status"] == "SUCCEEDED"
    # Then the record names the S3 object instead of holding the output
    detail = execution(chain, execution_id)
    assert detail["status"] == "completed"
    step = steps_by_id(detail)["export"]
    assert step["output"] is None
    bucket = chain.physical["BlobBucket"]["Ref"]
    assert step["output_ref"].startswith(f"s3://{bucket}/"), step
    key = step["output_ref"].removeprefix(f"s3://{bucket}/")
    stored = json.loads(boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read())
    rows = [{"id": n, "name": f"row {n}"} for n in range(500)]
    assert stored == {"rows": rows}
    # And the API reads it back from the bucket
    response = chain.api("GET", f"/api/v1/step-executions/{step['id']}/output")
    assert response.status == 200, response.body
    assert response.body == {"step_execution_id": step["id"], "step_id": "export", "output": {"rows": rows}}
