"""What the routers work with: the store, the services and the options of one app, as a FastAPI dependency."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from orchestrator.api.schemas import SchedulerStatus
from orchestrator.ports.blobs import Blobs
from orchestrator.ports.store import Store
from orchestrator.services.execution_events import EventStreamOptions
from orchestrator.services.executions import ExecutionService
from orchestrator.services.notifier import ExecutionNotifier
from orchestrator.services.trigger_catalog import TriggerCatalog
from orchestrator.services.workflow_catalog import WorkflowCatalog
from orchestrator.settings import Settings

#: a health check passes when it returns without raising (and does not return False)
HealthCheck = Callable[[], object]


@dataclass
class ApiContext:
    settings: Settings
    store: Store
    workflows: WorkflowCatalog
    triggers: TriggerCatalog
    notifier: ExecutionNotifier
    blobs: Blobs
    scheduler_status: Callable[[], SchedulerStatus]
    #: "scheduler" and "executor" checks of /health ("database" is always the store itself)
    health_checks: Mapping[str, HealthCheck]
    event_stream: EventStreamOptions
    #: builds the ExecutionService when first needed: that starts AWS clients (cloud) or the local runtime's
    #: objects, which requests that never touch executions should not pay for
    execution_service_factory: Callable[[], ExecutionService]
    _execution_service: ExecutionService | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def executions(self) -> ExecutionService:
        if self._execution_service is None:
            with self._lock:
                if self._execution_service is None:
                    self._execution_service = self.execution_service_factory()
        return self._execution_service


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]
