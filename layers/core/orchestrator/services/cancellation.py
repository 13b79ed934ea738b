"""Cancel signals of the executions whose steps run in this process.

Cancelling an execution stops its state machine, but a step already running keeps its worker thread
(and a script its processes) until it ends by itself. So the engine's cancel path (the local state
machines' ``stop_execution``, in the process that runs the steps) calls ``cancel(execution_id)``, and
each step that runs holds ``watch(execution_id)``: the ``threading.Event`` it gets is ``StepContext.cancelled``,
which executors poll (the script step kills its sandbox within 0.1 s), so the worker thread returns.

A cancel that arrives when no step of the execution runs is remembered for a while (the last
``REMEMBERED`` ones), so that a step starting just after it sees the event already set.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator

REMEMBERED = 4096
#: the error of whatever a cancel stopped: steps, their scripts, the state machine
CANCELLED_ERROR = "Orchestrator.Cancelled"


class CancelRegistry:
    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._lock = threading.Lock()
        #: execution id -> (event, how many steps watch it)
        self._watched: dict[str, tuple[threading.Event, int]] = {}
        self._cancelled: OrderedDict[str, None] = OrderedDict()
        self._remembered = remembered

    def cancel(self, execution_id: str) -> None:
        with self._lock:
            watched = self._watched.get(execution_id)
            self._cancelled[execution_id] = None
            self._cancelled.move_to_end(execution_id)
            while len(self._cancelled) > self._remembered:
                self._cancelled.popitem(last=False)
        if watched is not None:
            watched[0].set()

    def is_cancelled(self, execution_id: str) -> bool:
        with self._lock:
            return execution_id in self._cancelled

    @contextlib.contextmanager
    def watch(self, execution_id: str) -> Iterator[threading.Event]:
        with self._lock:
            event, count = self._watched.get(execution_id, (threading.Event(), 0))
            self._watched[execution_id] = (event, count + 1)
            if execution_id in self._cancelled:
                event.set()
        try:
            yield event
        finally:
            with self._lock:
                event, count = self._watched[execution_id]
                if count <= 1:
                    del self._watched[execution_id]
                else:
                    self._watched[execution_id] = (event, count - 1)


_registry = CancelRegistry()


def cancel(execution_id: str) -> None:
    """Tell every step of ``execution_id`` running in this process (and any about to start) to stop."""
    _registry.cancel(execution_id)


def watch(execution_id: str) -> contextlib.AbstractContextManager[threading.Event]:
    """The event that ``cancel(execution_id)`` sets, while a step of that execution runs."""
    return _registry.watch(execution_id)


def is_cancelled(execution_id: str) -> bool:
    return _registry.is_cancelled(execution_id)
