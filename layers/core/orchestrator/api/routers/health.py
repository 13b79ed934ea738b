"""GET /health (no key: load balancers and probes call it) and GET /api/v1/scheduler/status."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from orchestrator.api.auth import authenticate
from orchestrator.api.context import Context, HealthCheck
from orchestrator.api.schemas import (
    CheckResult,
    HealthChecks,
    HealthResponse,
    HealthStats,
    SchedulerStatus,
    error_responses,
)
from orchestrator.domain.stats import StoreStats
from orchestrator.observability import logger

router = APIRouter(tags=["health"])


def _check(name: str, check: HealthCheck) -> CheckResult:
    try:
        passed = check() is not False
    except Exception:
        # the reason goes to the log only: /health is public
        logger.exception("health check failed", extra={"check": name})
        return "error"
    return "ok" if passed else "error"


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "the database cannot be reached"}},
)
def health(context: Context) -> JSONResponse:
    """``healthy`` when every check passes, ``degraded`` otherwise; 503 when the database check fails."""
    stats: StoreStats | None = None
    try:
        stats = context.store.stats()
        database: CheckResult = "ok"
    except Exception:
        logger.exception("health check failed", extra={"check": "database"})
        database = "error"
    checks = HealthChecks(
        database=database,
        scheduler=_check("scheduler", context.health_checks["scheduler"]),
        executor=_check("executor", context.health_checks["executor"]),
    )
    body = HealthResponse(
        status="healthy" if all(value == "ok" for value in checks.model_dump().values()) else "degraded",
        checks=checks,
        stats=HealthStats(**stats.model_dump(include=set(HealthStats.model_fields))) if stats is not None else None,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if database == "ok" else 503)


@router.get(
    "/api/v1/scheduler/status",
    response_model=SchedulerStatus,
    dependencies=[Depends(authenticate)],
    responses=error_responses(401),
)
def scheduler_status(context: Context) -> SchedulerStatus:
    """Workers, the concurrency limit, and how many executions wait and run now."""
    return context.scheduler_status()
