"""Wakes up whoever watches an execution (server-sent events) as soon as something about it changed.

In one process (the local server) waiters wake at once; across processes (Lambda, or `orchestrator
serve`'s engine and API) watchers also poll the store, so a missed notification only costs one poll
interval, never an event.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

#: executions whose change counters are kept; older ones are forgotten (their watchers fall back on polling)
DEFAULT_CAPACITY = 10_000


class ExecutionNotifier:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._versions: OrderedDict[str, int] = OrderedDict()
        self._changed = threading.Condition(self._lock)

    def notify(self, execution_id: str) -> None:
        with self._changed:
            self._versions[execution_id] = self._versions.get(execution_id, 0) + 1
            self._versions.move_to_end(execution_id)
            if len(self._versions) > self._capacity:
                # a long-running server must not keep a counter for every execution it ever saw
                self._versions.popitem(last=False)
            self._changed.notify_all()

    def version(self, execution_id: str) -> int:
        with self._lock:
            return self._versions.get(execution_id, 0)

    def wait(self, execution_id: str, seen_version: int, timeout: float) -> int:
        """Blocks until the execution's version passes ``seen_version`` or ``timeout``; returns the version."""
        with self._changed:
            self._changed.wait_for(lambda: self._versions.get(execution_id, 0) > seen_version, timeout)
            return self._versions.get(execution_id, 0)


_notifier = ExecutionNotifier()


def get_notifier() -> ExecutionNotifier:
    return _notifier
