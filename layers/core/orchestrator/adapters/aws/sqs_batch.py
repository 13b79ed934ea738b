"""The SchedulerFunction's side of the queue: a batch of SQS records in, partial-batch failures out.

Each record is handled on its own; the ones that raise are reported in ``batchItemFailures`` (the event
source mapping needs ``FunctionResponseTypes: [ReportBatchItemFailures]``), so SQS delivers only those
again and, after the queue's maxReceiveCount, moves them to the DLQ. Records from a FIFO queue go
through Powertools' FIFO processor, which stops at the first failure and reports the rest as failed
too, keeping their order. When every record fails, Powertools raises BatchProcessingError: the
invocation fails and the whole batch is delivered again.

Handlers must be idempotent: SQS delivers at least once (the scheduler starts the Step Functions
execution named after the execution id, which cannot start twice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from orchestrator.adapters.aws.sqs_queue import decode_message
from orchestrator.observability import logger

RecordHandler = Callable[[SQSRecord], Any]


def process_sqs_batch(event: dict[str, Any], context: Any, record_handler: RecordHandler) -> dict[str, Any]:
    """Run ``record_handler`` on every record; returns ``{"batchItemFailures": [{"itemIdentifier": id}]}``."""
    processor = SqsFifoPartialProcessor() if _from_fifo_queue(event) else BatchProcessor(event_type=EventType.SQS)
    return dict(
        process_partial_response(
            event=event, record_handler=_logging_failures(record_handler), processor=processor, context=context
        )
    )


def process_execution_messages(
    event: dict[str, Any], context: Any, handle_execution: Callable[[str], None]
) -> dict[str, Any]:
    """``process_sqs_batch`` for the execution queue: ``handle_execution(execution_id)`` per message. A
    body that is not ``{"execution_id": ...}`` fails its record (and ends in the DLQ)."""
    return process_sqs_batch(event, context, lambda record: handle_execution(decode_message(record.body)))


def execution_id_of(record: SQSRecord) -> str:
    return decode_message(record.body)


def _from_fifo_queue(event: dict[str, Any]) -> bool:
    records = event.get("Records") or []
    return bool(records) and str(records[0].get("eventSourceARN", "")).endswith(".fifo")


def _logging_failures(record_handler: RecordHandler) -> RecordHandler:
    def handle(record: SQSRecord) -> Any:
        try:
            return record_handler(record)
        except Exception:
            # Powertools only records the failure; say which message, and how often it came already
            logger.exception(
                "queue message failed; SQS will deliver it again",
                extra={
                    "message_id": record.message_id,
                    "receive_count": record.attributes.approximate_receive_count,
                    "queue": record.event_source_arn,
                },
            )
            raise

    return handle
