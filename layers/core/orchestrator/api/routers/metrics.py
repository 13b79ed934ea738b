"""GET /metrics: Prometheus text exposition (no key: scrapers call it; restrict it at the network edge).

Seed 002's metrics, computed from the store at each scrape (``services.execution_metrics``):

- ``orchestrator_executions_total{workflow_id,status}``: finished executions by final status (counter);
- ``orchestrator_execution_duration_seconds{workflow_id}``: their durations (histogram, 1, 2, 4 ... 512 s);
- ``orchestrator_active_executions``: executions running now (gauge); ``orchestrator_queued_executions``:
  waiting for a worker (gauge);
- ``orchestrator_step_executions_total{workflow_id,step_id,status}``: finished steps by final status;
- ``orchestrator_step_duration_seconds{workflow_id,step_id}``: their durations (histogram).

A fresh registry per scrape holds one collector over that snapshot, so nothing accumulates in process
memory and every process (every Lambda) answers the same.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from orchestrator.api.context import Context
from orchestrator.services.execution_metrics import ExecutionMetrics, Histogram, collect_execution_metrics

router = APIRouter(tags=["health"])


def _buckets(histogram: Histogram) -> list[tuple[str, float]]:
    return [*((repr(bound), float(count)) for bound, count in histogram.cumulative()), ("+Inf", float(histogram.count))]


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: ExecutionMetrics) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot
        executions = CounterMetricFamily(
            "orchestrator_executions", "Finished workflow executions by final status",
            labels=["workflow_id", "status"],
        )
        for (workflow_id, status), count in sorted(snapshot.executions_finished.items()):
            executions.add_metric([workflow_id, status], count)
        yield executions

        durations = HistogramMetricFamily(
            "orchestrator_execution_duration_seconds", "Workflow execution duration", labels=["workflow_id"]
        )
        for workflow_id, histogram in sorted(snapshot.execution_durations.items()):
            durations.add_metric([workflow_id], _buckets(histogram), histogram.total)
        yield durations

        yield GaugeMetricFamily(
            "orchestrator_active_executions", "Number of currently active executions", value=snapshot.active_executions
        )
        yield GaugeMetricFamily(
            "orchestrator_queued_executions", "Executions waiting for a worker", value=snapshot.queued_executions
        )

        steps = CounterMetricFamily(
            "orchestrator_step_executions", "Finished step executions by final status",
            labels=["workflow_id", "step_id", "status"],
        )
        for (workflow_id, step_id, status), count in sorted(snapshot.steps_finished.items()):
            steps.add_metric([workflow_id, step_id, status], count)
        yield steps

        step_durations = HistogramMetricFamily(
            "orchestrator_step_duration_seconds", "Step execution duration (latest attempt)",
            labels=["workflow_id", "step_id"],
        )
        for (workflow_id, step_id), histogram in sorted(snapshot.step_durations.items()):
            step_durations.add_metric([workflow_id, step_id], _buckets(histogram), histogram.total)
        yield step_durations


def render_metrics(snapshot: ExecutionMetrics) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshot))
    return generate_latest(registry)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(context: Context) -> Response:
    return Response(render_metrics(collect_execution_metrics(context.store)), media_type=CONTENT_TYPE_LATEST)
