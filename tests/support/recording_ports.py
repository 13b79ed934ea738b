"""Queue and StateMachines fakes that remember what they were asked and run nothing: for tests of the
control plane (API, ExecutionService) where no workflow should execute."""

from __future__ import annotations

import threading
from typing import Any


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self._lock = threading.Lock()

    def send(self, execution_id: str, *, priority: int = 0) -> None:
        with self._lock:
            self.sent.append(execution_id)


class RecordingMachines:
    """Starts nothing; remembers which executions were started and stopped (task answers do nothing)."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []

    def start_execution(self, state_machine: str, name: str, input: dict[str, Any]) -> str:
        self.started.append(name)
        return f"arn:local:{name}"

    def stop_execution(self, execution_arn: str, error: str | None = None, cause: str | None = None) -> None:
        self.stopped.append(execution_arn)

    def send_task_success(self, task_token: str, output: Any) -> None:
        pass

    def send_task_failure(self, task_token: str, error: str | None = None, cause: str | None = None) -> None:
        pass

    def send_task_heartbeat(self, task_token: str) -> None:
        pass
