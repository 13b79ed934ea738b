"""What the routers work with: the store, the services and the options of one app, as a FastAPI dependency."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from orchestrator.api.schemas import SchedulerStatus
from orchestrator.api.stream_slots import StreamSlots
from orchestrator.ports.blobs import Blobs
from orchestrator.ports.secrets import SecretVault
from orchestrator.ports.store import Store
from orchestrator.services.execution_events import EventStreamOptions
from orchestrator.services.executions import ExecutionService
from orchestrator.services.notifier import ExecutionNotifier
from orchestrator.services.trigger_catalog import TriggerCatalog
from orchestrator.services.triggers import TriggerService
from orchestrator.services.workflow_catalog import WorkflowCatalog
from orchestrator.settings import Settings

T = TypeVar("T")

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
    #: build the services when first needed: that starts AWS clients (cloud) or the local runtime's objects,
    #: which requests that never touch executions should not pay for
    execution_service_factory: Callable[[], ExecutionService]
    trigger_service_factory: Callable[[], TriggerService]
    #: owners' secrets (opened when first needed: it may create the local key file)
    secret_vault_factory: Callable[[], SecretVault]
    #: open server-sent event streams, per owner, on threads of their own
    stream_slots: StreamSlots = field(default_factory=StreamSlots)
    _built: dict[str, object] = field(default_factory=dict, repr=False)
    # reentrant: building the trigger service may ask for the execution service
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def _once(self, name: str, factory: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = factory()
            return self._built[name]  # type: ignore[return-value]

    @property
    def executions(self) -> ExecutionService:
        return self._once("executions", self.execution_service_factory)

    @property
    def trigger_service(self) -> TriggerService:
        return self._once("triggers", self.trigger_service_factory)

    @property
    def secret_vault(self) -> SecretVault:
        return self._once("secret_vault", self.secret_vault_factory)


async def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]
