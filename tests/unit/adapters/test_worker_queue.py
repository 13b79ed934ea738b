"""The local queue: priority order, parallel workers, SQS-like redelivery and dead letters, stopping."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from orchestrator.adapters.local.worker_queue import LocalWorkerQueue
from orchestrator.ports.queue import DeadLetter, QueueClosed
from orchestrator.settings import Settings

WAIT = 5.0  # seconds; only reached when something is broken
FAILED_AT = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def queues() -> Iterator[list[LocalWorkerQueue]]:
    """Queues made by a test; stopped afterwards so no worker thread outlives it."""
    made: list[LocalWorkerQueue] = []
    yield made
    for queue in made:
        queue.stop(drain=False, timeout=WAIT)


@pytest.fixture
def make_queue(queues):
    def make(**options) -> LocalWorkerQueue:
        queue = LocalWorkerQueue(clock=lambda: FAILED_AT, **options)
        queues.append(queue)
        return queue

    return make


class Recorder:
    """A thread-safe handler that records the ids it was given."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handled: list[str] = []

    def __call__(self, execution_id: str) -> None:
        with self.lock:
            self.handled.append(execution_id)


def test_higher_priority_first_then_first_in_first_out(make_queue):
    # Given messages of mixed priorities, sent before one worker starts
    queue = make_queue(workers=1)
    for execution_id, priority in [("low-1", 0), ("high-1", 9), ("mid-1", 5), ("high-2", 9), ("low-2", 0), ("mid-2", 5)]:
        queue.send(execution_id, priority=priority)
    recorder = Recorder()
    # When the worker drains them
    queue.start(recorder)
    assert queue.join(WAIT)
    # Then they came by priority, and in sending order within a priority
    assert recorder.handled == ["high-1", "high-2", "mid-1", "mid-2", "low-1", "low-2"]


def test_workers_run_in_parallel(make_queue):
    # Given 3 workers and a handler that only returns once 3 handlers run at the same time
    queue = make_queue(workers=3)
    together = threading.Barrier(3, timeout=WAIT)
    queue.start(lambda execution_id: together.wait())
    # When 3 messages are sent / Then all are handled (the barrier would have broken otherwise)
    for index in range(3):
        queue.send(f"e{index}")
    assert queue.join(WAIT)
    assert not together.broken


def test_a_failed_delivery_is_retried(make_queue):
    # Given a handler that fails twice for one execution, then succeeds
    queue = make_queue(workers=1, max_receive_count=3)
    attempts: Counter[str] = Counter()

    def flaky(execution_id: str) -> None:
        attempts[execution_id] += 1
        if attempts[execution_id] < 3:
            raise ConnectionError("store busy")

    queue.start(flaky)
    queue.send("e1")
    # When the queue settles / Then the third delivery handled it; nothing was dead-lettered
    assert queue.join(WAIT)
    assert attempts["e1"] == 3
    assert queue.dead_letters() == []


def test_a_message_that_always_fails_is_dead_lettered_and_logged(make_queue, caplog):
    # Given a handler that always fails for "poison"
    queue = make_queue(workers=2, max_receive_count=3)
    attempts: Counter[str] = Counter()
    recorder = Recorder()

    def handler(execution_id: str) -> None:
        attempts[execution_id] += 1
        if execution_id == "poison":
            raise ValueError("bad workflow")
        recorder(execution_id)

    queue.start(handler)
    # When it and a good message are sent
    with caplog.at_level(logging.WARNING, logger="orchestrator"):
        queue.send("poison", priority=4)
        queue.send("good")
        assert queue.join(WAIT)
    # Then the poison message was tried max_receive_count times and dead-lettered; the good one went through
    assert attempts == {"poison": 3, "good": 1}
    assert recorder.handled == ["good"]
    assert queue.dead_letters() == [
        DeadLetter(execution_id="poison", priority=4, deliveries=3, error="ValueError: bad workflow", failed_at=FAILED_AT)
    ]
    # and every failure was logged with the execution id and the delivery number
    failures = [record for record in caplog.records if getattr(record, "execution_id", None) == "poison"]
    assert [record.delivery for record in failures] == [1, 2, 3]
    assert failures[-1].levelno == logging.ERROR and "dead-lettered" in failures[-1].getMessage()
    assert all(record.exc_info for record in failures)


def test_a_waiting_duplicate_is_delivered_once_at_the_higher_priority(make_queue):
    # Given "a" sent at priority 0, "b" at 5, then "a" again at 9, before the worker starts
    queue = make_queue(workers=1)
    queue.send("a", priority=0)
    queue.send("b", priority=5)
    queue.send("a", priority=9)
    queue.send("b", priority=1)  # a lower priority changes nothing
    assert queue.pending() == 2
    recorder = Recorder()
    # When delivered / Then each once, "a" first
    queue.start(recorder)
    assert queue.join(WAIT)
    assert recorder.handled == ["a", "b"]


def test_stop_with_drain_delivers_everything_including_retries(make_queue):
    # Given one worker, a message that fails once, and others waiting
    queue = make_queue(workers=1)
    attempts: Counter[str] = Counter()

    def fails_once(execution_id: str) -> None:
        attempts[execution_id] += 1
        if execution_id == "flaky" and attempts[execution_id] == 1:
            raise RuntimeError("once")

    for execution_id in ["flaky", "e1", "e2"]:
        queue.send(execution_id)
    queue.start(fails_once)
    # When stopped with drain / Then every message was delivered, the retry too, and none is left
    assert queue.stop(drain=True, timeout=WAIT) == []
    assert attempts == {"flaky": 2, "e1": 1, "e2": 1}
    # and the stopped queue takes no more messages
    with pytest.raises(QueueClosed, match="is stopped"):
        queue.send("late")


def test_stop_without_drain_finishes_the_current_message_and_returns_the_rest(make_queue):
    # Given one worker busy with "a" while "b" and "c" wait
    queue = make_queue(workers=1)
    started, release = threading.Event(), threading.Event()
    recorder = Recorder()

    def blocking(execution_id: str) -> None:
        recorder(execution_id)
        started.set()
        release.wait(WAIT)

    queue.send("a", priority=9)
    queue.start(blocking)
    assert started.wait(WAIT)
    queue.send("b")
    queue.send("c")
    # When stopped without drain: at first the worker is still busy, so it does not wait for it
    assert queue.stop(drain=False, timeout=0) == ["b", "c"]
    release.set()
    # Then once "a" is done the worker ends without taking "b" or "c", which are returned
    assert queue.stop(drain=False, timeout=WAIT) == ["b", "c"]
    assert recorder.handled == ["a"]


def test_join_times_out_while_a_handler_is_busy(make_queue):
    queue = make_queue(workers=1)
    release = threading.Event()
    queue.start(lambda execution_id: release.wait(WAIT))
    queue.send("slow")
    assert queue.join(0.05) is False
    release.set()
    assert queue.join(WAIT) is True


def test_misuse_is_refused(make_queue):
    with pytest.raises(ValueError, match="at least one worker"):
        LocalWorkerQueue(workers=0)
    with pytest.raises(ValueError, match="max_receive_count"):
        LocalWorkerQueue(max_receive_count=0)
    queue = make_queue(workers=1)
    queue.start(Recorder())
    with pytest.raises(RuntimeError, match="already started"):
        queue.start(Recorder())
    queue.stop()
    with pytest.raises(RuntimeError, match="was stopped"):
        queue.start(Recorder())


def test_settings_size_the_pool():
    queue = LocalWorkerQueue.from_settings(Settings(workers=4, queue_max_receive_count=5))
    assert (queue.workers, queue.max_receive_count) == (4, 5)
