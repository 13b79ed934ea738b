"""The live view of `orchestrator run`: one row per step, updated as the state machine moves.

When the run ends no row stays open: the engine reports the steps it closed (``cancelled``, e.g. the step
that was waiting for its retry when a sibling failed the run; see services/step_closing.py), and leaving
the view closes any row still pending or running the same way (a step that never started, or a run that
ended by an exception).

Big workflows (issue 9): a table with a row per step stops being readable once it is taller than the
terminal, and rebuilding it on every step event costs more than the steps themselves (a 1,000-step run
sends ~2,000 events, each of which rebuilt 1,000 rows). So:

- a workflow with more top-level steps than fit gets a compact view instead: one summary line per parallel
  group of the planner (``group 3 (100 steps): 40 succeeded, 5 running, 1 failed, 54 pending``), then the
  rows of the steps that are failed, retrying or running (at most ``_MAX_PROBLEM_ROWS``, then ``+N more``),
  so problems stay visible; small workflows keep the full table;
- ``on_step`` only updates the row and the per-group counts (O(1)); the view is built when rich.Live
  draws (at most ``_REFRESH_PER_SECOND`` times a second, on a terminal) and reused while nothing changed.
  A console that is not a terminal (a file, a pipe, CI logs) is not redrawn while the run goes: Live
  prints only the final state there, so it is built once at the start and once at the end.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrator.domain.planner import PlanError, plan
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
#: the order counts are listed in on a summary line (other statuses, e.g. a resumed run's, come after)
_COUNT_ORDER = ("succeeded", "skipped", "running", "retry", "failed", "cancelled", "pending")
#: the statuses whose rows the compact view keeps visible, in the order it shows them: a failure first (the
#: first one is usually the cause), then retries, then the steps running longest (the likeliest stuck)
_PROBLEMS = ("failed", "retry", "running")

#: more top-level steps than this (or than the terminal's height allows) get the compact view
_FULL_TABLE_MAX_ROWS = 30
#: lines of a table that are not rows: title, borders, header and its rule
_TABLE_CHROME = 6
#: below this many rows the full table is kept even on a tiny terminal (it was always shown; it scrolls)
_FULL_TABLE_MIN_ROWS = 10
#: the compact view's bounds, so it stays short whatever the workflow's shape (a terminal's height lowers them)
_MAX_GROUP_LINES = 20
_MAX_PROBLEM_ROWS = 20
#: lines of the compact view besides its group lines and problem rows: totals, the table's chrome, ``+N more``
_SUMMARY_CHROME = 1 + _TABLE_CHROME + 1
_REFRESH_PER_SECOND = 8


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
        try:
            groups = [[step.id for step in group] for group in plan(definition)]
        except PlanError:  # the run reports the bad graph; the view must not be what fails on it
            groups = [list(self._rows)]
        self._group_sizes = [len(group) for group in groups]
        self._group_of = {step_id: index for index, group in enumerate(groups) for step_id in group}
        # Kept up to date by each event, so drawing the compact view never walks all the rows
        self._counts: list[Counter[str]] = [Counter({"pending": size}) for size in self._group_sizes]
        self._problems: dict[str, dict[str, _Row]] = {status: {} for status in _PROBLEMS}
        # Bumped by every change: the view is rebuilt only when it moved since it was last built
        self._version = 0
        self._built: tuple[tuple[int, bool], RenderableType] | None = None
        # Redrawing at a fixed rate only helps where Live draws while running (a terminal, Jupyter)
        drawn_live = console.is_jupyter or (console.is_terminal and not console.is_dumb_terminal)
        self._live = Live(console=console, get_renderable=self._renderable, auto_refresh=drawn_live,
                          refresh_per_second=_REFRESH_PER_SECOND, transient=False)

    def __enter__(self) -> LiveStepView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            for row in self._rows.values():
                if row.status not in _FINAL:
                    row.note = "not started" if row.status == "pending" else "the run ended before it finished"
                    self._set_status(row, "cancelled")
            self._version += 1
        # Live's last refresh builds the view again: what stays on screen is this final state
        self._live.__exit__(*exc)

    def on_step(self, step_id: str, status: str, outcome: dict[str, Any] | None) -> None:
        with self._lock:
            row = self._rows.get(step_id)
            if row is None:
                return
            now = time.monotonic()
            if status == "running":
                self._set_status(row, "running")
                row.attempt += 1
                row.started = row.started or now
            else:
                self._set_status(row, status)
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
            self._version += 1

    def statuses(self) -> dict[str, str]:
        """Each step's status as the table shows it."""
        with self._lock:
            return {row.step_id: row.status for row in self._rows.values()}

    def _set_status(self, row: _Row, status: str) -> None:
        """Moves the row to ``status`` and keeps its group's counts and the problem rows in step (lock held)."""
        counts = self._counts[self._group_of[row.step_id]]
        counts[row.status] -= 1
        if counts[row.status] <= 0:
            del counts[row.status]
        counts[status] += 1
        if row.status in self._problems:
            self._problems[row.status].pop(row.step_id, None)
        if status in self._problems:
            self._problems[status][row.step_id] = row
        row.status = status

    # -- drawing: called by rich.Live (its refresh thread, and once more when it stops) -------------------------

    def _renderable(self) -> RenderableType:
        with self._lock:
            key = (self._version, self._full_table_fits())
            if self._built is None or self._built[0] != key:
                self._built = (key, self._build(compact=not key[1]))
            return self._built[1]

    def _full_table_fits(self) -> bool:
        limit = _FULL_TABLE_MAX_ROWS
        if self._console.is_terminal:  # checked on every build: the terminal may be resized during the run
            limit = max(_FULL_TABLE_MIN_ROWS, min(limit, self._console.height - _TABLE_CHROME))
        return len(self._rows) <= limit

    def _build(self, compact: bool) -> RenderableType:
        return self._summary() if compact else self._table(self._rows.values())

    def _table(self, rows: Iterable[_Row], title: str = "steps", caption: str | None = None) -> Table:
        table = Table(title=title, caption=caption, expand=False)
        for column in ("step", "type", "status", "attempt", "time", "note"):
            table.add_column(column)
        for row in rows:
            style = _STYLES.get(row.status, "")
            elapsed = f"{row.elapsed:.2f}s" if row.elapsed is not None else ""
            table.add_row(row.step_id, row.step_type, f"[{style}]{row.status}[/]", str(row.attempt or ""), elapsed, row.note)
        return table

    def _summary(self) -> RenderableType:
        """The compact view: totals, a line per group (or run of alike groups), then the problem rows."""
        total: Counter[str] = Counter()
        for counts in self._counts:
            total.update(counts)
        # A view taller than the terminal is cut by Live: on a terminal, its height is shared out
        room = self._console.height - _SUMMARY_CHROME if self._console.is_terminal else None
        group_lines = self._group_lines(_MAX_GROUP_LINES if room is None else max(3, min(_MAX_GROUP_LINES, room // 2)))
        max_rows = _MAX_PROBLEM_ROWS if room is None else max(3, min(_MAX_PROBLEM_ROWS, room - len(group_lines)))
        lines: list[RenderableType] = [Text.assemble(
            (f"steps: {len(self._rows)} in {len(self._counts)} parallel groups: ", "bold"), _counts_text(total)),
            *group_lines]
        problems = sum(len(rows) for rows in self._problems.values())
        if problems:
            shown = list(islice((row for status in _PROBLEMS for row in self._problems[status].values()),
                                max_rows))
            hidden = Counter({status: len(rows) for status, rows in self._problems.items()})
            hidden.subtract(Counter(row.status for row in shown))
            caption = f"+{problems - len(shown)} more: {_counts_plain(hidden)}" if problems > len(shown) else None
            lines.append(self._table(shown, title="failed, retrying and running steps", caption=caption))
        return Group(*lines)

    def _group_lines(self, max_lines: int) -> list[Text]:
        spans = [(index, index) for index in range(len(self._counts))]
        if len(spans) > max_lines:
            # A long chain has a group per step: merge the runs of groups that are all done or all still
            # pending, which leaves the groups where the run is going on their own lines
            spans = []
            kinds: list[str | None] = []
            for index, counts in enumerate(self._counts):
                kind = _kind(counts)
                if kinds and kind is not None and kinds[-1] == kind:
                    spans[-1] = (spans[-1][0], index)
                else:
                    spans.append((index, index))
                    kinds.append(kind)
        if len(spans) <= max_lines:
            return [self._group_line(span) for span in spans]
        # Whatever is left goes on one last line, its counts summed
        return [*(self._group_line(span) for span in spans[:max_lines - 1]),
                self._group_line((spans[max_lines - 1][0], spans[-1][1]))]

    def _span_counts(self, span: tuple[int, int]) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self._counts[span[0]:span[1] + 1]:
            total.update(counts)
        return total

    def _group_line(self, span: tuple[int, int]) -> Text:
        first, last = span
        steps = sum(self._group_sizes[first:last + 1])
        name = f"group {first + 1}" if first == last else f"groups {first + 1}-{last + 1}"
        return Text.assemble(f"{name} ({steps} step{'' if steps == 1 else 's'}): ",
                             _counts_text(self._span_counts(span)))


def _kind(counts: Counter[str]) -> str | None:
    """``done`` or ``pending`` for a group that may be merged with alike neighbours, else None."""
    if all(status in _FINAL for status in counts):
        return "done"
    if set(counts) == {"pending"}:
        return "pending"
    return None


def _ordered(counts: Counter[str]) -> list[tuple[str, int]]:
    others = sorted(status for status in counts if status not in _COUNT_ORDER)
    return [(status, counts[status]) for status in (*_COUNT_ORDER, *others) if counts[status] > 0]


def _counts_text(counts: Counter[str]) -> Text:
    # Each count keeps its status word: the colour only repeats it, for terminals that show colour
    text = Text()
    for position, (status, count) in enumerate(_ordered(counts)):
        if position:
            text.append(", ")
        text.append(f"{count} {status}", style=_STYLES.get(status, ""))
    return text


def _counts_plain(counts: Counter[str]) -> str:
    return ", ".join(f"{count} {status}" for status, count in _ordered(counts))
