"""Threads that run the sync ``invoke`` callable for the event loop, with batched completions.

``loop.run_in_executor`` wakes the event loop once per finished call (a self-pipe write each time) and
lets a ThreadPoolExecutor grow to all its threads under a burst, which then fight over the GIL. A Map
of a thousand short functions pays for that on every call. This pool hands results back in batches
(one loop wake-up for every completion that arrives while the loop is busy) and only starts another
thread when every running one is occupied.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

_STOP = object()


class InvokePool:
    def __init__(self, max_workers: int, thread_name_prefix: str = "asl-invoke") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._thread_name_prefix = thread_name_prefix
        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)
        self._queue: deque[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = deque()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False
        # Finished calls waiting to be handed to their futures on the event loop.
        self._done: deque[tuple[asyncio.Future[Any], Any, BaseException | None]] = deque()
        self._drain_scheduled = False

    def submit(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Run ``function(*args)`` on a pool thread; the returned future resolves on the calling loop."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the invoke pool is closed")
            self._queue.append((function, args, future))
            if self._idle == 0 and len(self._threads) < self.max_workers:
                self._start_thread()
            else:
                self._work_ready.notify()
        return future

    def shutdown(self) -> None:
        """Stop the threads once the queued calls are done (queued calls of abandoned futures included)."""
        with self._lock:
            self._closed = True
            self._work_ready.notify_all()

    # -- worker side -----------------------------------------------------------------------------------------

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._thread_name_prefix}-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue:
                    if self._closed:
                        return
                    self._idle += 1
                    self._work_ready.wait()
                    self._idle -= 1
                function, args, future = self._queue.popleft()
            if future.cancelled():  # nobody waits any more (a timeout, an abort)
                continue
            try:
                outcome = (future, function(*args), None)
            except BaseException as exc:  # handed to the awaiting coroutine, which decides
                outcome = (future, None, exc)
            self._complete(outcome)

    def _complete(self, outcome: tuple[asyncio.Future[Any], Any, BaseException | None]) -> None:
        loop = outcome[0].get_loop()
        with self._lock:
            self._done.append(outcome)
            if self._drain_scheduled:
                return  # the loop will pick this one up with the others
            self._drain_scheduled = True
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to tell
            loop.call_soon_threadsafe(self._drain)

    # -- loop side -----------------------------------------------------------------------------------------------

    def _drain(self) -> None:
        with self._lock:
            finished = list(self._done)
            self._done.clear()
            self._drain_scheduled = False
        for future, result, error in finished:
            if future.cancelled():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
