"""Concurrent children of a Map or Parallel state: MaxConcurrency, tolerated failures, abort on failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from orchestrator.asl.errors import STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD, StatesError


class FanOut:
    """Runs ``child(index)`` for every index, at most ``max_concurrency`` at a time (0 = no limit).

    Without a tolerance the first failure aborts the other children and becomes the failure of the whole.
    With ToleratedFailureCount/Percentage, failed children leave their {"Error", "Cause"} in the results
    until the threshold is exceeded, which fails the whole with States.ExceedToleratedFailureThreshold.
    An execution-ending error (States.Runtime) always aborts at once.
    """

    def __init__(
        self,
        count: int,
        max_concurrency: int = 0,
        tolerated_count: int | None = None,
        tolerated_percentage: float | None = None,
    ) -> None:
        self.count = count
        self.max_concurrency = max_concurrency
        self.tolerated_count = tolerated_count
        self.tolerated_percentage = tolerated_percentage

    @property
    def tolerating(self) -> bool:
        return self.tolerated_count is not None or self.tolerated_percentage is not None

    def _threshold_exceeded(self, failed: int) -> bool:
        if self.tolerated_count is not None and failed > self.tolerated_count:
            return True
        percentage = self.tolerated_percentage
        return percentage is not None and failed * 100.0 / self.count > percentage

    async def run(self, child: Callable[[int], Awaitable[Any]]) -> list[Any]:
        results: list[Any] = [None] * self.count
        if not self.count:
            return results
        semaphore = asyncio.Semaphore(self.max_concurrency) if self.max_concurrency else None
        tasks: list[asyncio.Task[None]] = []
        state = {"failure": None, "failed": 0}

        def stop_siblings() -> None:
            current = asyncio.current_task()
            for task in tasks:
                if task is not current and not task.done():
                    task.cancel()

        def abort(error: StatesError) -> None:
            if state["failure"] is None:
                state["failure"] = error
                stop_siblings()

        async def run_child(index: int) -> None:
            try:
                results[index] = await child(index)
            except asyncio.CancelledError:
                raise
            except StatesError as error:
                if error.ends_execution or not self.tolerating:
                    abort(error)
                    return
                results[index] = error.error_output()
                state["failed"] += 1
                if self._threshold_exceeded(state["failed"]):
                    abort(
                        StatesError(
                            STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD,
                            "The specified tolerated failure threshold was exceeded",
                        )
                    )
            except BaseException:
                # Not a state failure (the process is dying): stop the siblings and pass it on.
                stop_siblings()
                raise

        async def limited(index: int) -> None:
            if semaphore is None:
                await run_child(index)
                return
            async with semaphore:
                if state["failure"] is None:
                    await run_child(index)

        tasks.extend(asyncio.ensure_future(limited(index)) for index in range(self.count))
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for outcome in outcomes:
            # A crash of the process (a BaseException from a function) is not a state failure: pass it on.
            if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
                raise outcome
        failure = state["failure"]
        if failure is not None:
            raise failure
        return results
