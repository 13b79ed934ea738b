"""/health, /api/v1/scheduler/status and /metrics (Prometheus text format), all from the store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio.to_thread
from api_harness import ADMIN_KEY, Api, make_api
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.api import create_app
from orchestrator.domain.records import StepExecutionRecord, StepStatus, utcnow
from orchestrator.settings import Settings


def test_health_is_seed_002s_shape(api: Api) -> None:
    # Given an active workflow with a running and a queued execution
    workflow = api.create_workflow()
    api.client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=api.as_owner("alice"))
    api.create_workflow()
    running = api.execute(workflow["id"])
    api.execute(workflow["id"])
    api.store.transition(running["id"], "queued", "running")
    # When /health is asked (no key)
    response = api.client.get("/health")
    # Then every check is ok and the stats count what the store holds
    assert response.status_code == 200
    assert response.json() == {
        "status": "healthy",
        "checks": {"database": "ok", "scheduler": "ok", "executor": "ok"},
        "stats": {"active_executions": 1, "queued_executions": 1, "total_workflows": 2, "active_workflows": 1},
    }


class _UnreachableDatabase:
    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def stats(self) -> Any:
        raise ConnectionError("no route to db.internal:27017")


def test_health_is_503_when_the_database_fails_and_degraded_when_a_component_does(store: SqliteStore) -> None:
    broken = make_api(_UnreachableDatabase(store))  # type: ignore[arg-type]
    response = broken.client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded" and response.json()["checks"]["database"] == "error"
    assert response.json()["stats"] is None and "db.internal" not in response.text

    def scheduler_down() -> bool:
        raise RuntimeError("worker pool stopped")

    degraded = make_api(store, health_checks={"scheduler": scheduler_down}).client.get("/health")
    assert degraded.status_code == 200
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["checks"] == {"database": "ok", "scheduler": "error", "executor": "ok"}


def test_scheduler_status(api: Api) -> None:
    workflow = api.create_workflow()
    api.execute(workflow["id"])
    assert api.client.get("/api/v1/scheduler/status").status_code == 401
    status = api.client.get("/api/v1/scheduler/status", headers=api.as_owner("alice")).json()
    assert status == {"workers": 10, "max_concurrent": 100, "queued": 1, "running": 0}


def _finish(api: Api, execution_id: str, status: str, duration: float) -> None:
    api.store.transition(execution_id, "queued", "running")
    api.store.transition(execution_id, "running", status, duration=duration)


def _step(api: Api, execution_id: str, step_id: str, status: StepStatus, seconds: float) -> None:
    started = utcnow()
    api.store.upsert_step_execution(StepExecutionRecord(
        execution_id=execution_id, step_id=step_id, status=status,
        started_at=started, ended_at=started + timedelta(seconds=seconds),
    ))


def test_metrics_are_prometheus_text_computed_from_the_store(api: Api) -> None:
    # Given finished executions of one workflow (0.5 s, 3 s, 700 s), one running, one queued
    workflow_id = api.create_workflow()["id"]
    done = [api.execute(workflow_id)["id"] for _ in range(3)]
    _finish(api, done[0], "completed", 0.5)
    _finish(api, done[1], "completed", 3.0)
    _finish(api, done[2], "failed", 700.0)
    api.store.transition(api.execute(workflow_id)["id"], "queued", "running")
    api.execute(workflow_id)
    # and their steps, two of them iterations of a loop
    _step(api, done[0], "fetch", StepStatus.SUCCEEDED, 0.2)
    _step(api, done[2], "each[0].load", StepStatus.SUCCEEDED, 1.0)
    _step(api, done[2], "each[1].load", StepStatus.FAILED, 2.0)
    # When /metrics is scraped (no key)
    response = api.client.get("/metrics")
    # Then it parses as Prometheus text and holds seed 002's metrics
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families.values() for sample in family.samples
    }
    assert families["orchestrator_executions"].type == "counter"
    assert samples[("orchestrator_executions_total", (("status", "completed"), ("workflow_id", workflow_id)))] == 2
    assert samples[("orchestrator_executions_total", (("status", "failed"), ("workflow_id", workflow_id)))] == 1
    assert families["orchestrator_execution_duration_seconds"].type == "histogram"

    def bucket(le: str) -> float:
        return samples[("orchestrator_execution_duration_seconds_bucket", (("le", le), ("workflow_id", workflow_id)))]

    assert [bucket(le) for le in ("1.0", "2.0", "4.0", "512.0", "+Inf")] == [1, 1, 2, 2, 3]
    assert samples[("orchestrator_execution_duration_seconds_sum", (("workflow_id", workflow_id),))] == 703.5
    assert samples[("orchestrator_execution_duration_seconds_count", (("workflow_id", workflow_id),))] == 3
    assert samples[("orchestrator_active_executions", ())] == 1
    assert samples[("orchestrator_queued_executions", ())] == 1
    step = "orchestrator_step_executions_total"
    assert samples[(step, (("status", "succeeded"), ("step_id", "fetch"), ("workflow_id", workflow_id)))] == 1
    assert samples[(step, (("status", "succeeded"), ("step_id", "each[*].load"), ("workflow_id", workflow_id)))] == 1
    assert samples[(step, (("status", "failed"), ("step_id", "each[*].load"), ("workflow_id", workflow_id)))] == 1
    load_count = ("orchestrator_step_duration_seconds_count", (("step_id", "each[*].load"), ("workflow_id", workflow_id)))
    assert samples[load_count] == 2


def test_metric_label_values_are_escaped(api: Api) -> None:
    # Given a step id that needs escaping in the text format
    workflow_id = api.create_workflow()["id"]
    execution = api.execute(workflow_id)["id"]
    _finish(api, execution, "completed", 1.0)
    _step(api, execution, 'say "hi"\\now', StepStatus.SUCCEEDED, 0.1)
    families = list(text_string_to_metric_families(api.client.get("/metrics").text))
    step_ids = {s.labels.get("step_id") for f in families for s in f.samples}
    assert 'say "hi"\\now' in step_ids


def test_the_served_app_runs_blocking_work_on_the_configured_number_of_threads(store) -> None:
    # Given an app configured for 3 API threads
    app = create_app(store, make_api(store).executions, Settings(admin_api_key=ADMIN_KEY, api_threads=3))
    # When it is served (its lifespan runs)
    with TestClient(app) as client:
        # Then the thread pool of its event loop holds 3 threads
        assert client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens) == 3
