"""The process's TriggerService, wired from Settings: the local runtime's, or the cloud's.

Locally the service shares the LocalRuntime's store and ExecutionService (so a fired execution reaches
the in-process queue) and needs no platform adapters: the ticker fires schedules and matching happens
in-process. In the cloud (``ORCHESTRATOR_ENGINE=aws``) executions go out through SQS and Step
Functions, schedule triggers are EventBridge Scheduler schedules and event triggers EventBridge rules,
both targeting the TriggerFunction. Those two adapters are made only where their target is configured
(``ORCHESTRATOR_SCHEDULE_TARGET_ARN`` and ``..._ROLE_ARN``: the ApiFunction, which arms triggers); the
TriggerFunction only fires triggers and cannot name its own ARN in the template anyway.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from orchestrator.composition.secrets import get_secret_resolver
from orchestrator.services.inbound_triggers import LOCAL_REGION
from orchestrator.services.triggers import TriggerService
from orchestrator.settings import Settings, get_settings
from orchestrator.steps.egress import EgressPolicy


@lru_cache(maxsize=1)
def get_trigger_service() -> TriggerService:
    return build_trigger_service(get_settings())


def trigger_service_options(settings: Settings) -> dict[str, Any]:
    """What every TriggerService of this process is configured with, whatever its store and executions."""
    return {
        "egress": EgressPolicy.from_settings(settings),
        "misfire_grace": timedelta(seconds=settings.misfire_grace_seconds),
        "region": settings.aws_region or LOCAL_REGION,
        # webhook signatures and condition sources read their trigger owner's secrets, masked in logs
        "secrets": get_secret_resolver(),
    }


def build_trigger_service(settings: Settings) -> TriggerService:
    options = trigger_service_options(settings)
    if settings.engine != "aws":
        from orchestrator.composition.runtime import get_local_runtime

        runtime = get_local_runtime()
        return TriggerService(runtime.store, runtime.executions, **options)

    from orchestrator.adapters.aws.event_rules import EventBridgeRules
    from orchestrator.adapters.aws.scheduler import SchedulerSchedules
    from orchestrator.composition.factories import build_execution_service
    from orchestrator.composition.store import get_store

    store = get_store(settings)
    executions = build_execution_service(settings)
    arming = bool(settings.schedule_target_arn and settings.schedule_role_arn)
    return TriggerService(
        store, executions, SchedulerSchedules.from_settings(settings) if arming else None,
        event_rules=EventBridgeRules.from_settings(settings) if arming else None, **options,
    )
