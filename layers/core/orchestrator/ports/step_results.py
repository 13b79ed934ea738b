"""Where step outputs live between steps: Step Functions passes only references, never the outputs."""

from __future__ import annotations

from typing import Any, Protocol


class StepResultStore(Protocol):
    def put(self, execution_id: str, step_key: str, record: dict[str, Any]) -> None:
        """Store (replace) a step's result record: status, output, error, logs, timings, attempt."""

    def get(self, execution_id: str, step_key: str) -> dict[str, Any] | None: ...

    def all(self, execution_id: str) -> dict[str, dict[str, Any]]:
        """Every result record of the execution, by step key."""
