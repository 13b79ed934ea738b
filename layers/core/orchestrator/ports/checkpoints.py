"""Where the ASL interpreter writes each transition so that a killed process can resume an execution."""

from __future__ import annotations

from typing import Any, Protocol


class CheckpointStore(Protocol):
    def append(self, execution_id: str, records: list[dict[str, Any]]) -> None:
        """Durably append records (in order) to the execution's checkpoint log."""

    def load(self, execution_id: str) -> list[dict[str, Any]]:
        """Every record appended for the execution, in append order ([] if none)."""

    def unfinished(self) -> list[str]:
        """Ids of executions whose log has no terminal record: the ones to resume on restart."""

    def finish(self, execution_id: str, record: dict[str, Any]) -> None:
        """Append the terminal record; the execution no longer counts as unfinished."""
