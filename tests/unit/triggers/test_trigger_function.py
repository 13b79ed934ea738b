"""The TriggerFunction Lambda (functions/trigger/app.py) with its sample event: one slot, one execution."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from orchestrator.adapters.local.lambdas import LocalLambdaContext
from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.records import TriggerRecord, TriggerType
from support.triggers import SettableClock, TriggerWorld, a_workflow, build_world

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_EVENT = json.loads((ROOT / "events" / "trigger_schedule_event.json").read_text())


def load_function() -> ModuleType:
    spec = importlib.util.spec_from_file_location("trigger_function_app", ROOT / "functions" / "trigger" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def context() -> LocalLambdaContext:
    return LocalLambdaContext(function_name="TriggerFunction",
                              invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:trigger")


@pytest.fixture
def cloud(store: SqliteStore) -> TriggerWorld:
    """The sample event's trigger, saved the evening before its 02:00 UTC slot."""
    world = build_world(store, SettableClock(datetime(2024, 4, 30, 20, 0, tzinfo=UTC)))
    workflow = a_workflow(store)
    world.service.on_trigger_saved(store.create_trigger(TriggerRecord(
        id=SAMPLE_EVENT["trigger_id"], workflow_id=workflow.id, owner_id=workflow.owner_id,
        type=TriggerType.SCHEDULE, config={"cron": "0 2 * * *"})))
    world.clock.now = datetime(2024, 5, 1, 2, 0, 1, tzinfo=UTC)
    return world


def test_the_sample_schedule_event_starts_one_execution_however_often_it_is_delivered(cloud: TriggerWorld) -> None:
    handler = load_function().lambda_handler
    # When Scheduler invokes the function with the slot, then retries the same invocation
    first = handler(dict(SAMPLE_EVENT), context(), service=cloud.service)
    retry = handler(dict(SAMPLE_EVENT), context(), service=cloud.service)
    # Then one execution started, for that slot
    [execution] = cloud.executions()
    assert first == {"started": [execution.id]} and retry == {"started": []}
    assert execution.input == {"scheduled_time": "2024-05-01T02:00:00Z", "trigger_id": SAMPLE_EVENT["trigger_id"]}
    assert cloud.store.get_trigger(SAMPLE_EVENT["trigger_id"]).trigger_count == 1


def test_an_event_rule_delivery_and_a_condition_poll_go_through_the_same_function(store: SqliteStore) -> None:
    world = build_world(store, SettableClock(datetime(2024, 5, 1, 9, 0, tzinfo=UTC)))
    workflow = a_workflow(store)
    trigger = world.service.on_trigger_saved(store.create_trigger(TriggerRecord(
        workflow_id=workflow.id, owner_id=workflow.owner_id, type=TriggerType.EVENT,
        config={"pattern": {"source": ["ci"]}})))
    handler = load_function().lambda_handler
    event = {"source": "ci", "detail-type": "build.done", "detail": {}}
    assert len(handler({"trigger_id": trigger.id, "event": event}, context(), service=world.service)["started"]) == 1
    assert handler({"action": "poll_conditions"}, context(), service=world.service) == {"started": []}


def test_an_unknown_payload_is_an_error(store: SqliteStore, clock: SettableClock) -> None:
    world = build_world(store, clock)
    with pytest.raises(ValueError, match="unknown trigger invocation"):
        load_function().lambda_handler({"hello": "world"}, context(), service=world.service)
