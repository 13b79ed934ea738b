"""One router per resource; ``api.app.create_app`` includes them all (and the inbound triggers' router,
which needs arguments: ``inbound.create_inbound_router``)."""

from orchestrator.api.routers import (
    api_keys,
    events_sse,
    executions,
    health,
    metrics,
    secrets,
    steps,
    triggers,
    workflows,
)

#: in the order the OpenAPI document lists them
RESOURCE_ROUTERS = (
    workflows.router,
    triggers.router,
    executions.router,
    events_sse.router,
    steps.router,
    api_keys.router,
    secrets.router,
    health.router,
    metrics.router,
)
