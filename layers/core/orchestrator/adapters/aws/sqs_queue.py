"""The Queue port on SQS: a task queue and a high-priority queue (both with the DLQ as redrive target).

SQS has no priorities within a queue, so urgency picks the queue: ``priority >= high_priority_threshold``
goes to the high-priority queue, which the SchedulerFunction drains with its own reserved concurrency.
The body is ``{"execution_id": ...}`` (``encode_message`` / ``decode_message``, shared with the
consumer). On a FIFO queue the execution id is both the message group (executions do not wait for one
another) and the deduplication id (a re-send within SQS's 5-minute window is dropped).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.clients import LazyClient, error_message
from orchestrator.ports.queue import DEFAULT_PRIORITY, QueueSendError
from orchestrator.settings import Settings

MESSAGE_FIELD = "execution_id"
DEFAULT_HIGH_PRIORITY_THRESHOLD = 8
# SQS's limits on MessageGroupId / MessageDeduplicationId
_FIFO_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")


def encode_message(execution_id: str) -> str:
    return json.dumps({MESSAGE_FIELD: execution_id})


def decode_message(body: str) -> str:
    """The execution id of a message body; ValueError for anything else (a poison message)."""
    try:
        message = json.loads(body)
    except (TypeError, ValueError):
        raise ValueError(f"message body is not JSON: {body[:200]!r}") from None
    execution_id = message.get(MESSAGE_FIELD) if isinstance(message, dict) else None
    if not isinstance(execution_id, str) or not execution_id:
        raise ValueError(f'message body is not {{"{MESSAGE_FIELD}": "..."}}: {body[:200]!r}')
    return execution_id


def _fifo_id(execution_id: str) -> str:
    if _FIFO_ID.fullmatch(execution_id):
        return execution_id
    return hashlib.sha256(execution_id.encode()).hexdigest()


class SqsQueue:
    def __init__(
        self,
        task_queue_url: str,
        high_priority_queue_url: str | None = None,
        *,
        high_priority_threshold: int = DEFAULT_HIGH_PRIORITY_THRESHOLD,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        if not task_queue_url:
            raise ValueError("SqsQueue needs the task queue URL (ORCHESTRATOR_TASK_QUEUE_URL)")
        self.task_queue_url = task_queue_url
        # without a high-priority queue every message goes to the task queue
        self.high_priority_queue_url = high_priority_queue_url or task_queue_url
        self.high_priority_threshold = high_priority_threshold
        self._sqs = LazyClient("sqs", region=region, client=client)

    @classmethod
    def from_settings(cls, settings: Settings, client: Any = None) -> SqsQueue:
        return cls(
            settings.task_queue_url or "",
            settings.high_priority_queue_url,
            high_priority_threshold=settings.high_priority_threshold,
            region=settings.aws_region,
            client=client,
        )

    def queue_url_for(self, priority: int) -> str:
        return self.high_priority_queue_url if priority >= self.high_priority_threshold else self.task_queue_url

    def send(self, execution_id: str, *, priority: int = DEFAULT_PRIORITY) -> None:
        queue_url = self.queue_url_for(priority)
        request: dict[str, Any] = {
            "QueueUrl": queue_url,
            "MessageBody": encode_message(execution_id),
            # for people reading the queue; routing already happened
            "MessageAttributes": {"priority": {"DataType": "Number", "StringValue": str(priority)}},
        }
        if queue_url.endswith(".fifo"):
            request["MessageGroupId"] = request["MessageDeduplicationId"] = _fifo_id(execution_id)
        try:
            self._sqs.get().send_message(**request)
        except ClientError as error:
            raise QueueSendError(execution_id, error_message(error)) from error
        except BotoCoreError as error:  # endpoint unreachable, credentials missing
            raise QueueSendError(execution_id, str(error)) from error
