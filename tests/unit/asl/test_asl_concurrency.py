"""Map and Parallel really run concurrently; MaxConcurrency, tolerated failures, aborts; many callers."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from orchestrator.asl import Interpreter, load_state_machine


class ConcurrencyMeter:
    """A function that takes a while and records how many calls overlapped."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> Any:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.seconds)
        with self._lock:
            self.active -= 1
        return event


def map_machine(arn: str, **map_fields: Any) -> Any:
    return load_state_machine(
        {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": arn, "End": True}}},
                    "End": True,
                    **map_fields,
                }
            },
        }
    )


def test_max_concurrency_limits_the_calls_in_flight(interpreter, functions):
    # Given a Map over 12 items with MaxConcurrency 3
    meter = ConcurrencyMeter()
    machine = map_machine(functions.add("work", meter), MaxConcurrency=3)

    # When it runs
    result = interpreter.run(machine, {"items": list(range(12))})

    # Then exactly 3 calls were in flight at the peak, and results keep the item order
    assert result.output == list(range(12))
    assert meter.peak == 3


def test_max_concurrency_zero_runs_every_iteration_at_once(interpreter, functions):
    # Given a Map over 10 slow items without a limit
    meter = ConcurrencyMeter(seconds=0.2)
    machine = map_machine(functions.add("work", meter), MaxConcurrency=0)

    # When it runs
    interpreter.run(machine, {"items": list(range(10))})

    # Then all calls overlapped
    assert meter.peak == 10


def test_max_concurrency_path_reads_the_limit(interpreter, functions):
    # Given MaxConcurrencyPath pointing at 2
    meter = ConcurrencyMeter()
    machine = map_machine(functions.add("work", meter), MaxConcurrencyPath="$.limit")

    # When it runs
    interpreter.run(machine, {"items": list(range(6)), "limit": 2})

    # Then at most 2 calls overlapped
    assert meter.peak == 2


def test_parallel_branches_run_at_the_same_time(interpreter, functions):
    # Given three branches each calling a 0.3 s function
    meter = ConcurrencyMeter(seconds=0.3)
    arn = functions.add("work", meter)
    branch = {"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": arn, "End": True}}}
    machine = load_state_machine(
        {"StartAt": "Fork", "States": {"Fork": {"Type": "Parallel", "Branches": [branch, branch, branch], "End": True}}}
    )

    # When it runs
    result = interpreter.run(machine, {"n": 1})

    # Then the branches overlapped and the output lists each branch's result in order
    assert meter.peak == 3
    assert result.output == [{"n": 1}, {"n": 1}, {"n": 1}]


def test_nested_maps_do_not_deadlock_with_a_tiny_thread_pool(functions, clock):
    # Given a Map of Maps and only two invoke threads
    arn = functions.add("work", lambda event: event * 10)
    inner = {
        "StartAt": "Inner",
        "States": {
            "Inner": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": arn, "End": True}}},
                "End": True,
            }
        },
    }
    machine = load_state_machine({"StartAt": "Outer", "States": {"Outer": {"Type": "Map", "ItemProcessor": inner, "End": True}}})

    # When it runs
    with Interpreter(invoke=functions, clock=clock, max_workers=2) as interpreter:
        result = interpreter.run(machine, [[1, 2, 3], [4, 5], [6]])

    # Then every item was processed
    assert result.output == [[10, 20, 30], [40, 50], [60]]


def test_a_failed_iteration_aborts_the_others(interpreter, functions, types_of):
    # Given a Map where item 0 fails while the others are still running
    release = threading.Event()

    def work(item: Any) -> Any:
        if item == 0:
            raise RuntimeError("item 0 is broken")
        release.wait(5)
        return item

    machine = map_machine(functions.add("work", work))

    # When it runs
    result = interpreter.run(machine, {"items": [0, 1, 2]})
    release.set()

    # Then the Map fails with the iteration's error and the other iterations are aborted
    assert (result.status, result.error) == ("FAILED", "RuntimeError")
    types = types_of(result.history)
    assert types.count("MapIterationFailed") == 1
    assert types.count("MapIterationAborted") == 2
    assert "MapStateFailed" in types


def test_tolerated_failure_count_keeps_the_map_going(interpreter, functions):
    # Given ToleratedFailureCount 1 and one failing item
    def work(item: Any) -> Any:
        if item == "bad":
            raise ValueError("bad item")
        return item.upper()

    machine = map_machine(functions.add("work", work), ToleratedFailureCount=1, MaxConcurrency=1)

    # When it runs
    result = interpreter.run(machine, {"items": ["a", "bad", "c"]})

    # Then the Map succeeds; the failed item's slot holds its error output
    assert result.status == "SUCCEEDED"
    assert result.output[0] == "A" and result.output[2] == "C"
    assert result.output[1]["Error"] == "ValueError"


def test_exceeding_the_tolerated_failure_count_fails_the_map(interpreter, functions):
    # Given ToleratedFailureCount 1 and two failing items
    def work(item: Any) -> Any:
        if item.startswith("bad"):
            raise ValueError(item)
        return item

    machine = map_machine(functions.add("work", work), ToleratedFailureCount=1, MaxConcurrency=1)

    # When it runs
    result = interpreter.run(machine, {"items": ["bad1", "ok", "bad2", "ok"]})

    # Then the Map fails with States.ExceedToleratedFailureThreshold
    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


@pytest.mark.parametrize(("percentage", "status"), [(50, "SUCCEEDED"), (49, "FAILED")])
def test_tolerated_failure_percentage(interpreter, functions, percentage, status):
    # Given 2 failures out of 4 items and a tolerated percentage
    def work(item: int) -> int:
        if item % 2:
            raise ValueError("odd")
        return item

    machine = map_machine(functions.add("work", work), ToleratedFailurePercentage=percentage)

    # When it runs, Then 50 % tolerates the 2/4 failures and 49 % does not
    assert interpreter.run(machine, {"items": [0, 1, 2, 3]}).status == status


def test_tolerated_failure_count_path(interpreter, functions):
    # Given ToleratedFailureCountPath reading the tolerance from the input
    def work(item: int) -> int:
        raise ValueError("always")

    machine = map_machine(functions.add("work", work), ToleratedFailureCountPath="$.tolerate")

    # When two of two items fail, Then a tolerance of 2 passes and 1 does not
    assert interpreter.run(machine, {"items": [1, 2], "tolerate": 2}).status == "SUCCEEDED"
    assert interpreter.run(machine, {"items": [1, 2], "tolerate": 1}).status == "FAILED"


def test_run_from_many_threads_at_once(interpreter, functions):
    # Given one interpreter and a machine calling a slow function
    arn = functions.add("work", ConcurrencyMeter(seconds=0.05))
    machine = load_state_machine({"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": arn, "End": True}}})
    results: dict[int, Any] = {}

    # When eight threads run it at the same time
    def caller(number: int) -> None:
        results[number] = interpreter.run(machine, {"caller": number})

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    # Then every caller got its own result
    assert {n: r.output for n, r in results.items()} == {n: {"caller": n} for n in range(8)}


def test_run_works_inside_a_running_event_loop(interpreter):
    # Given a caller that is itself a coroutine on an event loop
    machine = load_state_machine({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})

    async def caller() -> Any:
        return interpreter.run(machine, {"from": "async"})

    # When it calls the blocking run, Then the interpreter's own loop does the work
    assert asyncio.run(caller()).output == {"from": "async"}
