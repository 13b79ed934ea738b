"""The local engine's cron ticker: a thread that calls ``callback(now)`` every ``interval`` seconds.

The callback (wired by the engine) claims the schedule triggers that are due in the store and fires
them; deciding what is due, and never firing a slot twice, is the store's claim plus
``domain.schedule.due_fires``, not the ticker's. The ticker only keeps time:

- the first tick comes at once on ``start()``, so slots missed while the server was down are looked at
  without waiting an interval;
- ticks keep their rhythm (no drift from the callback's run time); a callback slower than the interval
  is followed by one tick at once, never by a burst of catch-up ticks;
- one callback runs at a time; an exception is logged and the next tick comes as usual;
- ``stop()`` wakes the waiting thread at once and waits for a running callback to return.

``clock`` is the source of ``now`` (aware UTC); tests pass their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from orchestrator.observability import logger
from orchestrator.settings import Settings

TickCallback = Callable[[datetime], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Ticker:
    def __init__(
        self,
        callback: TickCallback,
        *,
        interval: float,
        clock: Callable[[], datetime] = _utc_now,
        name: str = "schedule-ticker",
    ) -> None:
        if interval <= 0:
            raise ValueError(f"the ticker interval must be positive, got {interval}")
        self.callback = callback
        self.interval = interval
        self.name = name
        self._clock = clock
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick_lock = threading.Lock()
        self.ticks = 0

    @classmethod
    def from_settings(cls, callback: TickCallback, settings: Settings) -> Ticker:
        return cls(callback, interval=settings.schedule_tick_seconds)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"ticker {self.name!r} was already started; make a new one")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop ticking; True once the thread has ended (False if ``timeout`` passed first)."""
        self._stopped.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def tick(self) -> None:
        """One tick now, in the caller's thread: ``callback(clock())``, its exception logged."""
        with self._tick_lock:
            now = self._clock()
            try:
                self.callback(now)
            except Exception:
                logger.exception("schedule tick failed; the next tick tries again",
                                 extra={"ticker": self.name, "now": now.isoformat()})
            finally:
                self.ticks += 1

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stopped.is_set():
            self.tick()
            next_tick += self.interval
            delay = next_tick - time.monotonic()
            if delay < 0:  # the callback overran: tick again now and take the rhythm from here
                next_tick, delay = time.monotonic(), 0.0
            if self._stopped.wait(delay):
                return
