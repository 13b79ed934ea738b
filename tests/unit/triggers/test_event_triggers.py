"""Event triggers: events in EventBridge's envelope, matched with EventBridge pattern semantics."""

from __future__ import annotations

import pytest

from orchestrator.adapters.sqlite import SqliteStore
from orchestrator.domain.records import TriggerType, WorkflowStatus
from orchestrator.services.trigger_errors import InvalidEvent, InvalidTriggerConfig
from support.triggers import (
    RecordingEventRules,
    SettableClock,
    TriggerWorld,
    a_trigger,
    a_workflow,
    build_world,
)

ORDER_CREATED = {"source": "shop.orders", "detail-type": "order.created", "detail": {"total": 120, "country": "DE"}}
ORDERS = {"source": ["shop.orders"], "detail-type": ["order.created"]}
BIG_ORDERS = {"source": ["shop.orders"], "detail": {"total": [{"numeric": [">=", 100]}]}}
REFUNDS = {"detail-type": [{"prefix": "refund."}]}


def test_an_event_fires_every_matching_trigger_with_the_event_as_input(world: TriggerWorld) -> None:
    # Given two workflows whose triggers match order events, and one that waits for refunds
    every_order = a_trigger(world, a_workflow(world.store), TriggerType.EVENT, {"pattern": ORDERS})
    big_order = a_trigger(world, a_workflow(world.store), TriggerType.EVENT, {"pattern": BIG_ORDERS})
    refund = a_trigger(world, a_workflow(world.store), TriggerType.EVENT, {"pattern": REFUNDS})
    # When an order event is published
    started = world.service.publish_event(ORDER_CREATED)
    # Then both order triggers started their workflow, with the whole envelope as input
    assert sorted(execution.trigger_id for execution in started) == sorted([every_order.id, big_order.id])
    envelope = started[0].input
    assert {key: envelope[key] for key in ("source", "detail-type", "detail")} == ORDER_CREATED
    assert envelope["time"] == "2024-05-01T09:00:00Z"
    assert (envelope["version"], envelope["account"], envelope["region"], envelope["resources"]) == (
        "0", "000000000000", "local", [])
    assert envelope["id"] and started[1].input == envelope
    # And each counts its fire; the refund trigger none
    assert [world.store.get_trigger(t.id).trigger_count for t in (every_order, big_order, refund)] == [1, 1, 0]


def test_an_event_nobody_waits_for_starts_nothing(world: TriggerWorld) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.EVENT, {"pattern": BIG_ORDERS})
    small = {**ORDER_CREATED, "detail": {"total": 99.5}}
    assert world.service.publish_event(small) == []
    assert world.executions() == []


def test_fields_given_in_the_event_are_kept(world: TriggerWorld) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.EVENT, {"pattern": {"region": ["eu-west-1"]}})
    event = {**ORDER_CREATED, "id": "evt-1", "time": "2024-04-30T23:59:59Z", "region": "eu-west-1",
             "account": "123456789012", "resources": ["arn:aws:s3:::bucket"]}
    [execution] = world.service.publish_event(event)
    assert {key: execution.input[key] for key in event} == event


def test_a_detail_given_as_json_text_is_read_as_json(world: TriggerWorld) -> None:
    # PutEvents' form carries the detail as text
    a_trigger(world, a_workflow(world.store), TriggerType.EVENT, {"pattern": BIG_ORDERS})
    [execution] = world.service.publish_event({**ORDER_CREATED, "detail": '{"total": 500}'})
    assert execution.input["detail"] == {"total": 500}


def test_disabled_triggers_and_inactive_workflows_are_not_fired(world: TriggerWorld) -> None:
    a_trigger(world, a_workflow(world.store), TriggerType.EVENT, {"pattern": ORDERS}, is_enabled=False)
    a_trigger(world, a_workflow(world.store, status=WorkflowStatus.PAUSED), TriggerType.EVENT, {"pattern": ORDERS})
    a_trigger(world, a_workflow(world.store, status=WorkflowStatus.DRAFT), TriggerType.EVENT, {"pattern": ORDERS})
    assert world.service.publish_event(ORDER_CREATED) == []


def test_an_owner_s_events_fire_only_that_owner_s_triggers(world: TriggerWorld) -> None:
    alice = a_trigger(world, a_workflow(world.store, owner_id="alice"), TriggerType.EVENT, {"pattern": ORDERS})
    a_trigger(world, a_workflow(world.store, owner_id="bob"), TriggerType.EVENT, {"pattern": ORDERS})
    started = world.service.publish_event(ORDER_CREATED, owner_id="alice")
    assert [execution.trigger_id for execution in started] == [alice.id]
    assert started[0].owner_id == "alice"


@pytest.mark.parametrize(("event", "problem"), [
    ({"detail-type": "x", "detail": {}}, "'source' is required"),
    ({"source": "x", "detail": {}}, "'detail-type' is required"),
    ({"source": "x", "detail-type": "y", "detail": [1]}, "'detail' must be a JSON object"),
    ({"source": "x", "detail-type": "y", "detail": "{nope"}, "not JSON"),
    ({"source": "x", "detail-type": "y", "DetailType": "y"}, "unknown field 'DetailType'"),
    ({"source": "x", "detail-type": "y", "resources": "arn"}, "'resources' must be a list of strings"),
    ({"source": "x", "detail-type": "y", "time": 1714550400}, "'time' must be a string"),
    (["not", "an", "object"], "an event is a JSON object"),
])
def test_malformed_events_are_refused_naming_the_problem(world: TriggerWorld, event: object, problem: str) -> None:
    with pytest.raises(InvalidEvent, match=problem):
        world.service.publish_event(event)


def test_an_invalid_pattern_is_refused_when_the_trigger_is_saved(world: TriggerWorld) -> None:
    with pytest.raises(InvalidTriggerConfig, match=r"config\.pattern"):
        a_trigger(world, a_workflow(world.store), TriggerType.EVENT,
                  {"pattern": {"detail": {"total": [{"numeric": [">", "ten"]}]}}})


def test_in_the_cloud_each_event_trigger_gets_an_eventbridge_rule(store: SqliteStore, clock: SettableClock) -> None:
    rules = RecordingEventRules()
    world = build_world(store, clock, event_rules=rules)
    # When an event trigger is saved, then deleted
    trigger = a_trigger(world, a_workflow(store), TriggerType.EVENT, {"pattern": BIG_ORDERS})
    assert rules.rules[trigger.id] == {"pattern": BIG_ORDERS, "payload": {"trigger_id": trigger.id}, "enabled": True}
    world.service.on_trigger_deleted(trigger)
    # Then the rule came and went with it
    assert rules.rules == {}


def test_a_rule_delivery_fires_its_trigger_if_the_current_pattern_still_matches(world: TriggerWorld) -> None:
    # Given an event trigger whose rule delivered an event (the cloud path)
    trigger = a_trigger(world, a_workflow(world.store), TriggerType.EVENT, {"pattern": BIG_ORDERS})
    delivered = {**ORDER_CREATED, "id": "evt-7", "account": "123456789012", "region": "eu-west-1",
                 "time": "2024-05-01T08:59:58Z", "resources": []}
    # When it arrives, Then the trigger fires with the event as input
    execution = world.service.fire_event(trigger.id, delivered)
    assert execution is not None and execution.input["id"] == "evt-7"
    # And after the pattern changed (the rule lags behind), the same event fires nothing
    world.store.update_trigger(trigger.id, config={"pattern": REFUNDS})
    assert world.service.fire_event(trigger.id, delivered) is None
    assert world.service.fire_event("gone", delivered) is None
