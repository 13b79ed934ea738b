"""Every function invoked with its events/ sample, as ``sam local invoke -e events/<x>.json`` would: through
Lambda's Invoke API (moto), with template.yaml's environment, against the moto deployment. None reaches a
real MongoDB or AWS; each returns normally, or with the clean outcome asserted here (the samples name
records this deployment does not hold)."""

from __future__ import annotations

import json
import re

import pytest

from support.aws_chain import ADMIN_KEY, EVENTS, AwsChain, FunctionError, load_template, sample_event

#: what the product generates (domain/records.new_id): every execution id in the samples has this form
PRODUCT_ID = re.compile(r"[0-9a-f]{32}")
SAMPLE_EXECUTION_ID = "0f6c2a1e6a4e4c619d1e3a1f6f0b2c11"
SAMPLES = {
    "ApiFunction": "api_list_workflows_event.json",
    "SchedulerFunction": "scheduler_sqs_event.json",
    "StepRunnerFunction": "step_runner_event.json",
    "ScriptRunnerFunction": "script_runner_event.json",
    "PauseGateFunction": "pause_gate_event.json",
    "PlanReaderFunction": "plan_reader_event.json",
    "ExecutionEventsFunction": "execution_status_change_event.json",
    "ReconcilerFunction": "reconciler_event.json",
    "TriggerFunction": "trigger_schedule_event.json",
}


def test_every_function_of_the_template_has_a_sample_event(chain: AwsChain) -> None:
    # Given the functions template.yaml declares
    functions = {lid for lid, r in load_template()["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    # Then each has a sample (invoked by a test below), and every sample belongs to a function
    assert set(SAMPLES) == functions == set(chain.functions)
    assert sorted(SAMPLES.values()) == sorted(p.name for p in EVENTS.glob("*.json"))


def _execution_ids(sample: str) -> list[str]:
    """Every execution id a sample names, wherever its function reads it."""
    event = sample_event(sample)
    if sample == "scheduler_sqs_event.json":
        bodies = [record["body"] for record in event["Records"]]
        return [json.loads(body)["execution_id"] for body in bodies if body.startswith("{")]
    if sample == "execution_status_change_event.json":
        detail = event["detail"]
        return [detail["name"], detail["executionArn"].rsplit(":", 1)[-1], event["resources"][0].rsplit(":", 1)[-1]]
    if sample == "script_runner_event.json":
        return [event["env"]["ORCHESTRATOR_EXECUTION_ID"]]
    if "execution" in event:
        return [event["execution"]["id"]]
    return []


def test_the_samples_name_executions_as_the_product_does_and_agree_on_one() -> None:
    # Given the execution ids the samples name
    named = {sample.name: _execution_ids(sample.name) for sample in EVENTS.glob("*.json")}
    every = [execution_id for ids in named.values() for execution_id in ids]
    # Then each is an id as the product makes them (domain/records.new_id: uuid4().hex)
    assert every and all(PRODUCT_ID.fullmatch(execution_id) for execution_id in every), named
    # And every sample that names one execution names the same one (the scheduler's batch names two)
    assert {ids[0] for ids in named.values() if ids} == {SAMPLE_EXECUTION_ID}, named
    assert {i for ids in named.values() for i in ids} == {SAMPLE_EXECUTION_ID, "b7a1c3d5e7f94b2d8c6e4a2f0d1b3c52"}


def _invoke(chain: AwsChain, function: str, sample: str) -> object:
    return chain.invoke(function, sample_event(sample))


def test_api_sample_without_a_valid_key_is_refused_and_with_one_lists_workflows(chain: AwsChain) -> None:
    # When the ApiFunction gets the sample as it is (its key is a placeholder)
    refused = _invoke(chain, "ApiFunction", "api_list_workflows_event.json")
    # Then it answers 401 with the API's error shape, under the stage path
    assert refused["statusCode"] == 401, refused  # type: ignore[index]
    assert json.loads(refused["body"])["error"]["code"] == "unauthorized"  # type: ignore[index]
    # And with the deployment's admin key (from AdminKeySecret) the same request lists workflows
    event = sample_event("api_list_workflows_event.json")
    event["headers"]["authorization"] = f"Bearer {ADMIN_KEY}"
    listed = chain.invoke("ApiFunction", event)
    assert listed["statusCode"] == 200, listed
    assert "items" in json.loads(listed["body"])


def test_scheduler_sample_fails_only_the_poison_message(chain: AwsChain) -> None:
    # When the SchedulerFunction gets two messages for executions it does not know and one poison message
    answer = _invoke(chain, "SchedulerFunction", "scheduler_sqs_event.json")
    # Then only the poison message is reported failed (unknown executions are dropped: nothing to start)
    poison = sample_event("scheduler_sqs_event.json")["Records"][2]["messageId"]
    assert answer == {"batchItemFailures": [{"itemIdentifier": poison}]}


def test_execution_events_sample_for_an_unknown_execution_records_nothing(chain: AwsChain) -> None:
    assert _invoke(chain, "ExecutionEventsFunction", "execution_status_change_event.json") == {
        "execution_id": SAMPLE_EXECUTION_ID, "recorded": False}


def test_reconciler_sample_reports_what_it_did(chain: AwsChain) -> None:
    report = _invoke(chain, "ReconcilerFunction", "reconciler_event.json")
    assert isinstance(report, dict) and report, report


def test_trigger_sample_for_an_unknown_trigger_starts_nothing(chain: AwsChain) -> None:
    assert _invoke(chain, "TriggerFunction", "trigger_schedule_event.json") == {"started": []}


def test_pause_gate_sample_for_an_unknown_execution_does_not_park(chain: AwsChain) -> None:
    # The execution is not paused (it does not exist): the gate answers its own token, which Step Functions
    # does not know (TaskNotFound, ignored), and parks nothing
    assert _invoke(chain, "PauseGateFunction", "pause_gate_event.json") == {"parked": False}


def test_script_runner_sample_runs_its_script(chain: AwsChain) -> None:
    outcome = _invoke(chain, "ScriptRunnerFunction", "script_runner_event.json")
    assert outcome["returncode"] == 0, outcome  # type: ignore[index]
    import base64

    stdout = json.loads(base64.b64decode(outcome["stdout_b64"]))  # type: ignore[index]
    assert stdout == {"doubled": [6, 16, 30, 8], "attempt": "1"}


def test_step_runner_sample_for_an_unknown_execution_is_a_clean_function_error(chain: AwsChain) -> None:
    # The execution was never prepared: the step runner refuses, as a function error the state machine's
    # Catch turns into the step's failure, not a crash reaching for a real database
    with pytest.raises(FunctionError) as refused:
        _invoke(chain, "StepRunnerFunction", "step_runner_event.json")
    assert SAMPLE_EXECUTION_ID in refused.value.payload["errorMessage"], refused.value.payload


def test_plan_reader_sample_for_an_unknown_execution_is_a_clean_function_error(chain: AwsChain) -> None:
    with pytest.raises(FunctionError) as refused:
        _invoke(chain, "PlanReaderFunction", "plan_reader_event.json")
    assert SAMPLE_EXECUTION_ID in refused.value.payload["errorMessage"], refused.value.payload
