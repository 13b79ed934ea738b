"""How the cloud's TriggerService is wired: platform adapters only where triggers are armed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.adapters.aws.event_rules import EventBridgeRules
from orchestrator.adapters.aws.scheduler import SchedulerSchedules
from orchestrator.composition import factories
from orchestrator.composition.store import close_stores
from orchestrator.composition.triggers import build_trigger_service
from orchestrator.settings import Settings, get_settings

CLOUD = {"engine": "aws", "store": "memory", "aws_region": "us-east-1",
         "task_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/tasks"}


@pytest.fixture(autouse=True)
def cloud_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORCHESTRATOR_ENGINE", "aws")
    get_settings.cache_clear()
    factories.get_state_machines.cache_clear()
    yield
    get_settings.cache_clear()
    factories.get_state_machines.cache_clear()
    close_stores()


def test_the_trigger_function_fires_without_platform_adapters() -> None:
    # The TriggerFunction has no schedule target of its own (it is the target)
    service = build_trigger_service(Settings(**CLOUD))
    assert service.schedules is None and service.event_rules is None


def test_the_api_arms_triggers_on_eventbridge() -> None:
    settings = Settings(**CLOUD, schedule_target_arn="arn:aws:lambda:us-east-1:123456789012:function:trigger",
                        schedule_role_arn="arn:aws:iam::123456789012:role/scheduler", event_bus_name="orchestrator")
    service = build_trigger_service(settings)
    assert isinstance(service.schedules, SchedulerSchedules)
    assert isinstance(service.event_rules, EventBridgeRules) and service.event_rules.bus_name == "orchestrator"
    assert service.inbound.region == "us-east-1"
