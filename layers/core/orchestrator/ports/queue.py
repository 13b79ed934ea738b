"""The execution queue: what the control plane uses to hand a queued execution to whoever starts it.

An execution is saved as ``queued`` first (the store is the outbox); then its id goes through the queue.
Delivery is at least once: a consumer can see an id twice, and must be idempotent (the cloud consumer
starts the Step Functions execution named by the execution id, which cannot start twice). A send that
fails leaves the execution queued in the store, where the reconciler finds it and sends it again.

Adapters: ``adapters/aws/sqs_queue.py`` (SQS: a task queue, a high-priority queue, a dead-letter queue
behind both) and ``adapters/local/worker_queue.py`` (in-process priority queue and worker threads).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

#: the priority of an execution nobody gave one (``ExecutionRecord.priority``); higher runs first
DEFAULT_PRIORITY = 0

#: what a consumer does with one execution id; an exception means "not handled, deliver it again"
ExecutionHandler = Callable[[str], None]


class QueueSendError(RuntimeError):
    """The message did not reach the queue; the execution stays queued in the store."""

    def __init__(self, execution_id: str, reason: str) -> None:
        self.execution_id = execution_id
        self.reason = reason
        super().__init__(f"cannot enqueue execution {execution_id!r}: {reason}")


class QueueClosed(QueueSendError):
    """The local queue was stopped and takes no more messages."""


@dataclass(frozen=True)
class DeadLetter:
    """A message that failed every delivery (SQS would move it to the DLQ)."""

    execution_id: str
    priority: int
    deliveries: int
    error: str
    failed_at: datetime


class Queue(Protocol):
    def send(self, execution_id: str, *, priority: int = DEFAULT_PRIORITY) -> None:
        """Enqueue the execution id; higher ``priority`` is taken first. Raises QueueSendError."""


class WorkerQueue(Queue, Protocol):
    """A queue whose consumers run in this process (the local engine)."""

    def start(self, handler: ExecutionHandler) -> None:
        """Start the workers; each message is passed to ``handler``."""

    def stop(self, *, drain: bool = True, timeout: float | None = None) -> list[str]:
        """Stop taking messages and stop the workers; returns the ids left undelivered."""

    def dead_letters(self) -> list[DeadLetter]:
        """Messages that failed every delivery, oldest first."""
