"""The live view of `orchestrator run`: one row per step, updated as the state machine moves.

When the run ends no row stays open: the engine reports the steps it closed (``cancelled``, e.g. the step
that was waiting for its retry when a sibling failed the run; see services/step_closing.py), and leaving
the view closes any row still pending or running the same way (a step that never started, or a run that
ended by an exception).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from orchestrator.domain.workflow import WorkflowDefinition

_STYLES = {
    "pending": "dim",
    "running": "yellow",
    "retry": "magenta",
    "succeeded": "green",
    "skipped": "cyan",
    "failed": "bold red",
    "cancelled": "red",
}
#: the statuses a row ends in; any other is closed when the view is left
_FINAL = frozenset({"succeeded", "skipped", "failed", "cancelled"})


@dataclass
class _Row:
    step_id: str
    step_type: str
    status: str = "pending"
    attempt: int = 0
    started: float | None = None
    elapsed: float | None = None
    note: str = ""


class LiveStepView:
    def __init__(self, definition: WorkflowDefinition, console: Console) -> None:
        self._rows = {step.id: _Row(step.id, step.type) for step in definition.steps}
        self._lock = threading.Lock()
        self._console = console
        self._live = Live(self._table(), console=console, refresh_per_second=8, transient=False)

    def __enter__(self) -> LiveStepView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            for row in self._rows.values():
                if row.status not in _FINAL:
                    row.note = "not started" if row.status == "pending" else "the run ended before it finished"
                    row.status = "cancelled"
        self._live.update(self._table())
        self._live.__exit__(*exc)

    def on_step(self, step_id: str, status: str, outcome: dict[str, Any] | None) -> None:
        with self._lock:
            row = self._rows.get(step_id)
            if row is None:
                return
            now = time.monotonic()
            if status == "running":
                row.status, row.attempt = "running", row.attempt + 1
                row.started = row.started or now
            else:
                row.status = status
                row.elapsed = now - row.started if row.started else None
                error = (outcome or {}).get("error")
                if status == "retry":
                    row.note = f"{error}; again in {(outcome or {}).get('wait_seconds')}s"
                elif status == "cancelled":
                    row.note = (outcome or {}).get("cause") or "cancelled"
                elif error:
                    row.note = f"{error}{' (continued)' if (outcome or {}).get('continue') else ''}"
                else:
                    row.note = ""
        self._live.update(self._table())

    def statuses(self) -> dict[str, str]:
        """Each step's status as the table shows it."""
        with self._lock:
            return {row.step_id: row.status for row in self._rows.values()}

    def _table(self) -> Table:
        table = Table(title="steps", expand=False)
        for column in ("step", "type", "status", "attempt", "time", "note"):
            table.add_column(column)
        for row in self._rows.values():
            style = _STYLES.get(row.status, "")
            elapsed = f"{row.elapsed:.2f}s" if row.elapsed is not None else ""
            table.add_row(row.step_id, row.step_type, f"[{style}]{row.status}[/]", str(row.attempt or ""), elapsed, row.note)
        return table
