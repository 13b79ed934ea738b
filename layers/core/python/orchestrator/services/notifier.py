"""Wakes up whoever watches an execution (server-sent events) as soon as something about it changed.

In one process (the local server) waiters wake at once; across processes (Lambda) watchers also poll
the store, so a missed notification only costs one poll interval, never an event.
"""

from __future__ import annotations

import threading
from collections import defaultdict


class ExecutionNotifier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, int] = defaultdict(int)
        self._changed = threading.Condition(self._lock)

    def notify(self, execution_id: str) -> None:
        with self._changed:
            self._versions[execution_id] += 1
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
