"""SchedulerFunction, ExecutionEventsFunction and ReconcilerFunction with the sample events of events/."""

from __future__ import annotations

from cloud_handler_support import MACHINE, context, event, load_handler, queued_execution

from orchestrator.domain.records import ExecutionStatus
from orchestrator.services.step_records import EXECUTION_CONTEXT_KEY


def test_scheduler_starts_each_queued_execution_once_and_reports_the_poison_message(store, machines, service) -> None:
    # Given the two executions the sample SQS batch names, queued in the store
    first = queued_execution(store, "0f6c2a1e6a4e4c619d1e3a1f6f0b2c11")
    second = queued_execution(store, "b7a1c3d5e7f94b2d8c6e4a2f0d1b3c52")
    handler = load_handler("scheduler")
    # When the batch arrives (its third record is not an execution message)
    answer = handler.lambda_handler(event("scheduler_sqs_event.json"), context("SchedulerFunction"), executions=service)
    # Then both run, each state machine execution is named after its execution id, and only the poison
    # message is reported as failed (SQS redelivers it, then the DLQ takes it)
    assert set(machines.started) == {first.id, second.id}
    assert machines.started[first.id]["execution"] == {"id": first.id}
    assert store.get_execution(first.id).status is ExecutionStatus.RUNNING
    assert store.step_results.get(first.id, EXECUTION_CONTEXT_KEY) is not None
    failures = answer["batchItemFailures"]
    assert len(failures) == 1
    poison = event("scheduler_sqs_event.json")["Records"][2]["messageId"]
    assert failures[0]["itemIdentifier"] == poison


def test_a_redelivered_batch_never_starts_a_second_run(store, machines, service) -> None:
    queued_execution(store, "0f6c2a1e6a4e4c619d1e3a1f6f0b2c11")
    queued_execution(store, "b7a1c3d5e7f94b2d8c6e4a2f0d1b3c52")
    handler = load_handler("scheduler")
    handler.lambda_handler(event("scheduler_sqs_event.json"), context("SchedulerFunction"), executions=service)
    first_inputs = dict(machines.started)
    handler.lambda_handler(event("scheduler_sqs_event.json"), context("SchedulerFunction"), executions=service)
    assert machines.started == first_inputs


def test_execution_events_record_the_final_status(store, service) -> None:
    # Given a running execution
    execution = queued_execution(store, "0f6c2a1e6a4e4c619d1e3a1f6f0b2c11")
    service.dispatch(execution.id)
    handler = load_handler("execution_events")
    # When Step Functions reports that it failed
    answer = handler.lambda_handler(event("execution_status_change_event.json"), context("ExecutionEventsFunction"),
                                    executions=service)
    # Then the execution is failed with the state machine's error
    assert answer == {"execution_id": execution.id, "recorded": True}
    failed = store.get_execution(execution.id)
    assert (failed.status, failed.error) == (ExecutionStatus.FAILED, "Http.503")
    # And the same event again changes nothing
    again = handler.lambda_handler(event("execution_status_change_event.json"), context("ExecutionEventsFunction"),
                                   executions=service)
    assert again["recorded"] is False


def test_reconciler_reannounces_stuck_queued_and_finishes_ended_runs(store, queue, machines, service, monkeypatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_QUEUED_TIMEOUT_SECONDS", "0.001")
    from orchestrator.settings import get_settings

    get_settings.cache_clear()
    stuck = queued_execution(store, "stuck")
    ended = queued_execution(store, "ended")
    service.dispatch(ended.id)
    machines.statuses[ended.id] = "SUCCEEDED"
    queue.sent.clear()
    report = load_handler("reconciler").lambda_handler(event("reconciler_event.json"), context("ReconcilerFunction"),
                                                       executions=service)
    get_settings.cache_clear()
    assert report == {"reannounced": 1, "finished": 1, "restarted": 0}
    assert queue.sent == [(stuck.id, 0)]
    assert store.get_execution(ended.id).status is ExecutionStatus.COMPLETED
    assert MACHINE.startswith("arn:")
