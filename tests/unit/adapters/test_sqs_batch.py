"""The SchedulerFunction's batch handling: per-record failures become batchItemFailures."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from orchestrator.adapters.aws.sqs_batch import execution_id_of, process_execution_messages, process_sqs_batch

EVENT = json.loads((Path(__file__).parents[3] / "events" / "scheduler_sqs_event.json").read_text())
FIRST, SECOND, POISON = (record["messageId"] for record in EVENT["Records"])


def test_failed_records_are_reported_and_the_rest_are_handled():
    # Given the sample batch: two executions, one of which fails to start, and a body that is no message
    started: list[str] = []

    def start(execution_id: str) -> None:
        if execution_id == "b7a1c3d5e7f94b2d8c6e4a2f0d1b3c52":
            raise RuntimeError("store unavailable")
        started.append(execution_id)

    # When the batch is processed
    response = process_execution_messages(EVENT, None, start)
    # Then the good one was handled and only the two failures go back to SQS
    assert started == ["0f6c2a1e6a4e4c619d1e3a1f6f0b2c11"]
    assert response == {"batchItemFailures": [{"itemIdentifier": SECOND}, {"itemIdentifier": POISON}]}


def test_a_clean_batch_reports_no_failures():
    event = {"Records": EVENT["Records"][:2]}
    started: list[str] = []
    assert process_execution_messages(event, None, started.append) == {"batchItemFailures": []}
    assert len(started) == 2


def test_when_every_record_fails_the_invocation_fails():
    # Powertools' rule: the whole batch comes back, and the function's error metric shows it
    with pytest.raises(BatchProcessingError):
        process_execution_messages({"Records": EVENT["Records"][2:]}, None, lambda execution_id: None)


def test_a_fifo_batch_stops_at_the_first_failure():
    # Given the batch from a FIFO queue, whose second record fails
    event = copy.deepcopy(EVENT)
    for record in event["Records"]:
        record["eventSourceARN"] += ".fifo"
        record["attributes"]["MessageGroupId"] = "g"
    seen: list[str] = []

    def handle(record) -> None:
        seen.append(record.message_id)
        if record.message_id == SECOND:
            raise RuntimeError("second fails")

    # When processed
    response = process_sqs_batch(event, None, handle)
    # Then the third is not handled (it must not overtake the second) and both come back
    assert seen == [FIRST, SECOND]
    assert response == {"batchItemFailures": [{"itemIdentifier": SECOND}, {"itemIdentifier": POISON}]}


def test_records_reach_a_record_handler_whole():
    bodies: list[str] = []
    process_sqs_batch({"Records": EVENT["Records"][:1]}, None, lambda record: bodies.append(execution_id_of(record)))
    assert bodies == ["0f6c2a1e6a4e4c619d1e3a1f6f0b2c11"]
