"""SchedulerFunction: takes queued executions off SQS and starts their state machines.

Partial batch failures: only the messages that failed come back (then to the DLQ). Idempotent on the
message: dispatch moves queued -> running with a compare-and-set and names the Step Functions execution
after the execution id, so a redelivered message never starts a second run.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.aws.sqs_batch import process_execution_messages
from orchestrator.composition.factories import get_execution_service
from orchestrator.observability import logger, metrics, tracer
from orchestrator.services.executions import ExecutionService


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext, executions: ExecutionService | None = None) -> dict[str, Any]:
    service = executions or get_execution_service()
    return process_execution_messages(event, context, service.dispatch)
