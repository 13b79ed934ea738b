"""What the step runner needs to know of the control plane, and what it tells it, without the whole Store.

In the cloud and under `orchestrator serve` both are backed by the Store; one-shot `orchestrator run`
has neither (nothing can pause it, and nothing watches it but the live view).
"""

from __future__ import annotations

from typing import Any, Protocol


class ExecutionControl(Protocol):
    def execution_status(self, execution_id: str) -> str | None:
        """The control plane's status of the execution (queued, running, paused, cancelled, ...)."""


class StepObserver(Protocol):
    def step_recorded(self, execution_id: str, step_key: str, record: dict[str, Any]) -> None:
        """A step's result record was written (running, succeeded, failed, retrying, skipped)."""
