"""The execution notifier wakes watchers, and forgets the oldest executions beyond its capacity."""

from __future__ import annotations

import threading

from orchestrator.services.notifier import ExecutionNotifier


def test_a_change_wakes_a_waiting_watcher() -> None:
    # Given a watcher waiting for the first change of an execution
    notifier = ExecutionNotifier()
    seen: list[int] = []
    watcher = threading.Thread(target=lambda: seen.append(notifier.wait("e1", 0, timeout=5)))
    watcher.start()
    # When the execution changes
    notifier.notify("e1")
    watcher.join(timeout=5)
    # Then the watcher woke with the new version
    assert seen == [1]


def test_only_the_most_recently_changed_executions_are_remembered() -> None:
    # Given a notifier that keeps 2 executions
    notifier = ExecutionNotifier(capacity=2)
    # When three executions change, the first one again before the third
    for execution_id in ("e1", "e2", "e1", "e3"):
        notifier.notify(execution_id)
    # Then the least recently changed one is forgotten, the others keep their counts
    assert (notifier.version("e1"), notifier.version("e2"), notifier.version("e3")) == (2, 0, 1)
