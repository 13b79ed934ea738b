"""Injectable time for the interpreter.

Two kinds of waiting happen in an execution:

* the interpreter's own waits (Wait states, Retry intervals): ``sleep_until(deadline)``;
* watchdogs that race real work (TimeoutSeconds, HeartbeatSeconds): ``alarm(deadline)``.

``SystemClock`` does both with real time. ``FakeClock`` makes the interpreter's own waits instantaneous
but moves its ``now()`` forward to their deadline, so timestamps, Timestamp waits and durations stay
consistent; its alarms fire only when virtual time reaches them (through such a wait or ``advance``), so a
test drives timeouts deterministically: ``clock.advance(301)`` inside a slow fake function.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    async def sleep_until(self, deadline: datetime) -> None:
        """Wait until ``deadline`` (returns at once if it has passed)."""

    async def alarm(self, deadline: datetime) -> None:
        """Complete when ``deadline`` is reached; cancelled by the caller if the guarded work ends first."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, deadline: datetime) -> None:
        # asyncio sleeps on the monotonic clock: re-check the wall clock in case it moved meanwhile.
        while True:
            remaining = (deadline - datetime.now(UTC)).total_seconds()
            if remaining <= 0:
                return
            await asyncio.sleep(remaining)

    async def alarm(self, deadline: datetime) -> None:
        await self.sleep_until(deadline)


class FakeClock:
    """Virtual time. ``sleeps`` lists every interpreter sleep in seconds, in the order requested."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start if start is not None else datetime.now(UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock start must be timezone-aware")
        self._lock = threading.Lock()
        self._alarms: list[tuple[datetime, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        # Reading one attribute is atomic; writers hold the lock.
        return self._now

    def advance(self, seconds: float) -> None:
        """Move virtual time forward (from any thread), firing the alarms that fall due."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            due = self._take_due_alarms()
        _fire(due)

    async def sleep_until(self, deadline: datetime) -> None:
        with self._lock:
            seconds = max(0.0, (deadline - self._now).total_seconds())
            self.sleeps.append(seconds)
            # Concurrent branches that sleep overlap in time: the clock moves to the latest deadline
            # reached, it does not add the durations up.
            if deadline > self._now:
                self._now = deadline
            due = self._take_due_alarms()
        _fire(due)
        # Let other coroutines run, as a real sleep would.
        await asyncio.sleep(0)

    async def alarm(self, deadline: datetime) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (deadline, loop, future)
        with self._lock:
            if deadline <= self._now:
                return
            self._alarms.append(entry)
        try:
            await future
        finally:
            with self._lock:
                if entry in self._alarms:
                    self._alarms.remove(entry)

    def _take_due_alarms(self) -> list[tuple[datetime, asyncio.AbstractEventLoop, asyncio.Future[None]]]:
        due = [entry for entry in self._alarms if entry[0] <= self._now]
        if due:
            self._alarms = [entry for entry in self._alarms if entry[0] > self._now]
        return due


def _fire(due: list[tuple[datetime, asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
    for _deadline, loop, future in due:
        if not loop.is_closed():
            loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
