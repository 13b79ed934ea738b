"""Execution and step metrics computed from the store, for ``GET /metrics`` (seed 002's Prometheus metrics).

The store is the source of truth across processes (many Lambdas, or a server restarted since): counting
in process memory would show each process its own slice. So every scrape reads the executions and
their steps. Counters only count what can never change again (finished executions, finished steps),
which keeps them monotonic as Prometheus requires; work in progress is a gauge.

Step ids inside loops and parallel branches carry positions (``each[3].fetch``); they are folded
(``each[*].fetch``) so that a loop over a thousand items adds one series, not a thousand.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from orchestrator.domain.lifecycle import is_terminal
from orchestrator.domain.records import ExecutionStatus, StepStatus
from orchestrator.ports.store import MAX_PAGE_SIZE, Store

#: seed 002: prometheus.ExponentialBuckets(1, 2, 10)
EXECUTION_DURATION_BUCKETS: tuple[float, ...] = tuple(float(2**power) for power in range(10))
STEP_DURATION_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

_FINISHED_STEP_STATUSES = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED}
)
_POSITION = re.compile(r"\[\d+\]")


def step_label(step_id: str) -> str:
    return _POSITION.sub("[*]", step_id)


@dataclass
class Histogram:
    """Observations counted into buckets (upper bounds, ascending); ``+Inf`` is ``count``."""

    bounds: Sequence[float]
    bucket_counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if not self.bucket_counts:
            self.bucket_counts = [0] * len(self.bounds)

    def observe(self, value: float) -> None:
        # buckets are "less than or equal": a value on a bound belongs to that bucket
        position = bisect.bisect_left(self.bounds, value)
        if position < len(self.bounds):
            self.bucket_counts[position] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        running, result = 0, []
        for bound, count in zip(self.bounds, self.bucket_counts, strict=True):
            running += count
            result.append((bound, running))
        return result


@dataclass
class ExecutionMetrics:
    #: (workflow_id, final status) -> finished executions
    executions_finished: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: status -> executions in it now (queued, running, paused)
    executions_in_progress: Counter[str] = field(default_factory=Counter)
    #: workflow_id -> durations of finished executions
    execution_durations: dict[str, Histogram] = field(
        default_factory=lambda: defaultdict(lambda: Histogram(EXECUTION_DURATION_BUCKETS))
    )
    #: (workflow_id, step label, final status) -> finished steps
    steps_finished: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: (workflow_id, step label) -> durations of finished steps
    step_durations: dict[tuple[str, str], Histogram] = field(
        default_factory=lambda: defaultdict(lambda: Histogram(STEP_DURATION_BUCKETS))
    )

    @property
    def active_executions(self) -> int:
        return self.executions_in_progress[ExecutionStatus.RUNNING.value]

    @property
    def queued_executions(self) -> int:
        return self.executions_in_progress[ExecutionStatus.QUEUED.value]


def collect_execution_metrics(store: Store) -> ExecutionMetrics:
    """Reads every execution (paged) and every execution's steps. Cost grows with history: see the
    report on a store-side aggregate for large deployments."""
    metrics = ExecutionMetrics()
    cursor: str | None = None
    while True:
        page = store.list_executions(limit=MAX_PAGE_SIZE, cursor=cursor)
        for execution in page.items:
            status = execution.status.value
            if not is_terminal(execution.status):
                metrics.executions_in_progress[status] += 1
            else:
                metrics.executions_finished[(execution.workflow_id, status)] += 1
                if execution.duration is not None:
                    metrics.execution_durations[execution.workflow_id].observe(execution.duration)
            _count_steps(store, execution.id, execution.workflow_id, metrics)
        if page.next_cursor is None:
            return metrics
        cursor = page.next_cursor


def _count_steps(store: Store, execution_id: str, workflow_id: str, metrics: ExecutionMetrics) -> None:
    for step in store.list_step_executions(execution_id):
        if step.status not in _FINISHED_STEP_STATUSES:
            continue
        label = step_label(step.step_id)
        metrics.steps_finished[(workflow_id, label, step.status.value)] += 1
        if step.started_at is not None and step.ended_at is not None:
            seconds = max(0.0, (step.ended_at - step.started_at).total_seconds())
            metrics.step_durations[(workflow_id, label)].observe(seconds)
