"""The HTTP API's FastAPI app: ``create_app()`` wires the store, the services and the routers.

The same app serves the local engine (uvicorn, SQLite) and the cloud (Lambda behind API Gateway through
Mangum, MongoDB). Every dependency can be passed in (tests pass a store in a temporary directory and an
ExecutionService on fakes); what is not passed comes from the settings, as the rest of the process gets it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from orchestrator.api.auth import AdminKeySource, ApiKeyAuthenticator, event_scope
from orchestrator.api.context import ApiContext, HealthCheck
from orchestrator.api.errors import ROUTES_STATE_KEY, install_error_handlers
from orchestrator.api.middleware import BodySizeLimit, JsonBodyGuard, UnexpectedErrors
from orchestrator.api.routers import RESOURCE_ROUTERS
from orchestrator.api.routers.inbound import create_inbound_router
from orchestrator.api.schemas import SchedulerStatus
from orchestrator.ports.blobs import Blobs
from orchestrator.ports.secrets import SecretResolver, SecretVault
from orchestrator.ports.store import Store
from orchestrator.services.execution_events import EventStreamOptions
from orchestrator.services.executions import ExecutionService
from orchestrator.services.notifier import ExecutionNotifier, get_notifier
from orchestrator.services.trigger_catalog import TriggerCatalog
from orchestrator.services.triggers import TriggerService
from orchestrator.services.workflow_catalog import WorkflowCatalog
from orchestrator.settings import Settings, get_settings

API_VERSION = "1.0.0"

_DESCRIPTION = """
Workflows, their versions and triggers; executions, their steps, logs and live events.

**Authentication**: every `/api/v1` endpoint needs an API key, sent as `Authorization: Bearer <key>`
or `X-API-Key: <key>`. A key sees only its owner's records (others' answer 404); admin keys see all.
`/health`, `/metrics`, `/docs` and `/openapi.json` need no key.

**Errors** always have the shape `{"error": {"code", "message", "details"}}`; invalid requests and
definitions list every problem with its location in `details.problems`.

**JSON bodies** must be JSON proper: `NaN`, `Infinity`, numbers that overflow to infinity and lone UTF-16
surrogates (`"\\udc00"`) are refused with 400 `invalid_json`, and so is nesting deeper than
`ORCHESTRATOR_MAX_JSON_DEPTH` (default 64) levels; the message says where.

**Lists** are cursor-paged: `?limit=&cursor=` in, `{"items": [...], "next_cursor": ...}` out.
"""

_TAGS = [
    {"name": "workflows", "description": "Workflows, immutable versions, lifecycle, templates"},
    {"name": "triggers", "description": "Schedules, webhooks, events and conditions that start workflows"},
    {"name": "executions", "description": "Runs of workflows: control, logs, live events"},
    {"name": "step executions", "description": "One step of one execution"},
    {"name": "api keys", "description": "Who may call the API"},
    {"name": "secrets", "description": "Each owner's secrets, write-only: {{secrets.<name>}} in its workflows"},
    {"name": "health", "description": "Probes and Prometheus metrics (no key needed)"},
]


def create_app(
    store: Store | None = None,
    executions: ExecutionService | None = None,
    settings: Settings | None = None,
    *,
    trigger_service: TriggerService | None = None,
    notifier: ExecutionNotifier | None = None,
    blobs: Blobs | None = None,
    scheduler_status: Callable[[], SchedulerStatus] | None = None,
    health_checks: Mapping[str, HealthCheck] | None = None,
    event_stream: EventStreamOptions | None = None,
    secret_vault: SecretVault | None = None,
) -> FastAPI:
    """The API app. Pass ``store`` and ``executions`` together (the service must work on that store);
    without them the process's own are used (the local runtime's, or SQS + Step Functions in the cloud).
    ``trigger_service``: checks and arms triggers (default: one on the given store and executions, or the
    process's). ``blobs``: where large step outputs are read back (default: with the process's own
    services, the process's, as its step runner stores them: S3 when ``blob_bucket`` is set; with a given
    store, that store's). ``health_checks``: ``scheduler`` / ``executor`` checks of /health (default:
    their status can be read). ``event_stream``: polling, heartbeat and length of the server-sent event
    streams."""
    settings = settings or get_settings()
    own_services = store is None and executions is None
    store = store or _default_store(settings)
    trigger_catalog = TriggerCatalog(store, lambda: context.trigger_service)
    context = ApiContext(
        settings=settings,
        store=store,
        workflows=WorkflowCatalog(store, trigger_catalog),
        triggers=trigger_catalog,
        notifier=notifier or get_notifier(),
        blobs=blobs or (_process_blobs() if own_services else store.blobs),
        scheduler_status=scheduler_status or (lambda: _scheduler_status_from_store(store, settings)),
        health_checks={},
        event_stream=event_stream or EventStreamOptions(),
        execution_service_factory=(lambda: executions) if executions is not None else (
            _default_execution_service
        ),
        trigger_service_factory=lambda: trigger_service or (
            _process_trigger_service() if own_services else TriggerService(
                store, context.executions, secrets=_process_secret_resolver())
        ),
        secret_vault_factory=lambda: secret_vault or _secret_vault(settings, None if own_services else store),
    )
    context.health_checks = {
        "scheduler": context.scheduler_status,
        "executor": lambda: context.executions,
        **(health_checks or {}),
    }

    app = FastAPI(
        lifespan=_thread_limit(settings.api_threads),
        title="Orchestrator API",
        version=API_VERSION,
        description=_DESCRIPTION,
        openapi_tags=_TAGS,
    )
    app.state.context = context
    app.state.authenticator = ApiKeyAuthenticator(store, _admin_key_source(settings))
    install_error_handlers(app)
    # added last = outermost: the 500 safety net also covers the size limit and stamps every response;
    # the JSON guard reads bodies through the size limit
    app.add_middleware(JsonBodyGuard, max_depth=settings.max_json_depth)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(UnexpectedErrors)
    inbound = create_inbound_router(
        event_scope=event_scope,
        trigger_service=lambda: context.trigger_service,
        max_body_bytes=settings.max_request_bytes,
        max_json_depth=settings.max_json_depth,
    )
    routers = (*RESOURCE_ROUTERS, inbound)
    for router in routers:
        app.include_router(router)
    setattr(app.state, ROUTES_STATE_KEY, [route for router in routers for route in router.routes])
    return app


def _thread_limit(threads: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Sizes the thread pool that runs the endpoints' blocking work (store calls). Starlette's default of 40
    threads only adds contention for the interpreter lock: measured with benchmarks/api.py, 8 threads
    accepted as many executions per second as 40, with half the p99 latency."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan


def _admin_key_source(settings: Settings) -> AdminKeySource:
    # ORCHESTRATOR_ADMIN_KEY, or the secret ORCHESTRATOR_ADMIN_KEY_SECRET_ID names (read now: a missing one
    # fails the start, naming it; then again once per config_secret_max_age_seconds, for rotation)
    from orchestrator.composition.config_secrets import admin_key_source

    return admin_key_source(settings)


def _default_store(settings: Settings) -> Store:
    from orchestrator.composition.store import get_store

    return get_store(settings)


def _process_blobs() -> Blobs:
    # where this process's step runner puts large outputs: S3 in the cloud (ORCHESTRATOR_BLOB_BUCKET)
    from orchestrator.composition.factories import get_blobs

    return get_blobs()


def _secret_vault(settings: Settings, store: Store | None) -> SecretVault:
    """The process's vault, or one over the given store's rows (same key rules)."""
    from orchestrator.composition import secrets as secrets_factory

    if store is None:
        return secrets_factory.get_secret_vault()
    return secrets_factory.build_vault(settings, store)


def _process_secret_resolver() -> SecretResolver:
    from orchestrator.composition.secrets import get_secret_resolver

    return get_secret_resolver()


def _process_trigger_service() -> TriggerService:
    from orchestrator.composition.triggers import get_trigger_service

    return get_trigger_service()


def _default_execution_service() -> ExecutionService:
    from orchestrator.composition.factories import get_execution_service

    return get_execution_service()


def _scheduler_status_from_store(store: Store, settings: Settings) -> SchedulerStatus:
    stats = store.stats()
    return SchedulerStatus(
        workers=settings.workers,
        max_concurrent=settings.max_concurrent,
        queued=stats.queued_executions,
        running=stats.active_executions,
    )
