"""The Queue port in-process: a priority queue and a pool of worker threads (the local engine's SQS).

Order: higher priority first, first-in first-out within a priority.

Delivery mirrors SQS with a redrive policy. A handler that raises has not handled the message: it is
logged with its execution id and delivered again, behind the messages already waiting at its priority,
until it has failed ``max_receive_count`` deliveries (SQS's maxReceiveCount); then it goes to the
dead-letter list (``dead_letters()``) and is logged as an error. There is no visibility timeout: a
message is redelivered as soon as its delivery failed.

An id sent again while it still waits is delivered once (the waiting message takes the higher of the two
priorities), as a FIFO queue's deduplication would; an id sent while it is being handled is delivered
again afterwards, so handlers stay idempotent as with SQS.

Stopping: ``stop(drain=True)`` takes no new messages, lets the workers finish everything queued
(redeliveries included) and returns when they are done or ``timeout`` passed. ``stop(drain=False)``
lets each worker finish its current message only and returns the ids still waiting. Nothing is lost
either way: the store is the outbox, and the engine re-sends executions still queued there at start-up.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from orchestrator.observability import logger
from orchestrator.ports.queue import DEFAULT_PRIORITY, DeadLetter, ExecutionHandler, QueueClosed
from orchestrator.settings import Settings


@dataclass(order=True)
class _Message:
    # heap order: higher priority first, then send order
    order: tuple[int, int]
    execution_id: str = field(compare=False)
    priority: int = field(compare=False)
    #: failed deliveries so far
    failures: int = field(default=0, compare=False)
    #: replaced by a later send of the same id with a higher priority
    superseded: bool = field(default=False, compare=False)


class LocalWorkerQueue:
    def __init__(
        self,
        *,
        workers: int = 10,
        max_receive_count: int = 3,
        name: str = "orchestrator-worker",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if workers < 1:
            raise ValueError(f"a worker queue needs at least one worker, got {workers}")
        if max_receive_count < 1:
            raise ValueError(f"max_receive_count is at least 1, got {max_receive_count}")
        self.workers = workers
        self.max_receive_count = max_receive_count
        self.name = name
        self._clock = clock
        self._condition = threading.Condition()
        self._heap: list[_Message] = []
        self._waiting: dict[str, _Message] = {}
        self._sequence = itertools.count()
        self._in_flight = 0
        self._dead: list[DeadLetter] = []
        self._threads: list[threading.Thread] = []
        self._handler: ExecutionHandler | None = None
        self._closed = False
        self._stopping = False
        self._draining = True

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalWorkerQueue:
        return cls(workers=settings.workers, max_receive_count=settings.queue_max_receive_count)

    # --- the Queue port ---------------------------------------------------------------------------

    def send(self, execution_id: str, *, priority: int = DEFAULT_PRIORITY) -> None:
        with self._condition:
            if self._closed:
                raise QueueClosed(execution_id, f"the local queue {self.name!r} is stopped")
            waiting = self._waiting.get(execution_id)
            if waiting is not None:
                if waiting.priority >= priority:
                    return
                waiting.superseded = True
            self._push(execution_id, priority, failures=waiting.failures if waiting else 0)
            self._condition.notify()

    # --- the worker pool --------------------------------------------------------------------------

    def start(self, handler: ExecutionHandler) -> None:
        with self._condition:
            if self._closed:
                raise RuntimeError(f"the local queue {self.name!r} was stopped; make a new one")
            if self._threads:
                raise RuntimeError(f"the local queue {self.name!r} is already started")
            self._handler = handler
            self._threads = [
                threading.Thread(target=self._work, name=f"{self.name}-{index}", daemon=True)
                for index in range(self.workers)
            ]
        for thread in self._threads:
            thread.start()

    def stop(self, *, drain: bool = True, timeout: float | None = None) -> list[str]:
        """See the module doc. Returns the ids not delivered (in delivery order)."""
        with self._condition:
            self._closed = self._stopping = True
            self._draining = drain
            self._condition.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        with self._condition:
            left = [message.execution_id for message in sorted(self._heap) if not message.superseded]
            if not any(thread.is_alive() for thread in self._threads):
                self._heap.clear()
                self._waiting.clear()
        if left:
            logger.info("local queue stopped with messages undelivered", extra={"queue": self.name, "left": len(left)})
        return left

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no message waits and none is being handled; False if ``timeout`` passed first."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._waiting and not self._in_flight, timeout)

    def dead_letters(self) -> list[DeadLetter]:
        with self._condition:
            return list(self._dead)

    def pending(self) -> int:
        """Messages waiting (not the ones being handled)."""
        with self._condition:
            return len(self._waiting)

    # --- inside (callers hold the condition's lock) -----------------------------------------------

    def _push(self, execution_id: str, priority: int, *, failures: int) -> None:
        message = _Message((-priority, next(self._sequence)), execution_id, priority, failures)
        heapq.heappush(self._heap, message)
        self._waiting[execution_id] = message

    def _take(self) -> _Message | None:
        """The next message to deliver, waiting for one; None when the worker should exit."""
        while True:
            while self._heap and self._heap[0].superseded:
                heapq.heappop(self._heap)
            # draining ends when nothing waits and nothing handled now can come back as a redelivery
            if self._stopping and (not self._draining or (not self._heap and not self._in_flight)):
                return None
            if self._heap:
                message = heapq.heappop(self._heap)
                del self._waiting[message.execution_id]
                self._in_flight += 1
                return message
            self._condition.wait()

    def _work(self) -> None:
        handler = self._handler
        assert handler is not None
        while True:
            with self._condition:
                message = self._take()
            if message is None:
                return
            error: Exception | None = None
            try:
                handler(message.execution_id)
            except Exception as raised:
                error = raised
                self._log_failure(message, raised)
            finally:
                with self._condition:
                    self._in_flight -= 1
                    if error is not None:
                        self._after_failure(message, error)
                    self._condition.notify_all()

    def _log_failure(self, message: _Message, error: Exception) -> None:
        delivery = message.failures + 1
        context = {
            "queue": self.name,
            "execution_id": message.execution_id,
            "priority": message.priority,
            "delivery": delivery,
            "max_receive_count": self.max_receive_count,
        }
        if delivery >= self.max_receive_count:
            logger.exception("queue message failed its last delivery; dead-lettered", extra=context)
        else:
            logger.exception("queue message failed; delivering it again", extra=context)

    def _after_failure(self, message: _Message, error: Exception) -> None:
        failures = message.failures + 1
        if failures >= self.max_receive_count:
            self._dead.append(
                DeadLetter(
                    execution_id=message.execution_id,
                    priority=message.priority,
                    deliveries=failures,
                    error=f"{type(error).__name__}: {error}",
                    failed_at=self._clock(),
                )
            )
            return
        if message.execution_id in self._waiting:
            return  # sent again meanwhile: that message is the redelivery
        self._push(message.execution_id, message.priority, failures=failures)
