"""The EventRules port on EventBridge (moto stores rules and targets; it does not invoke Lambda targets)."""

from __future__ import annotations

import json

import boto3
import pytest

from orchestrator.adapters.aws.event_rules import TARGET_ID, EventBridgeRules, input_template
from orchestrator.settings import Settings

TARGET = "arn:aws:lambda:us-east-1:123456789012:function:orchestrator-TriggerFunction"
PATTERN = {"source": ["shop.orders"], "detail": {"total": [{"numeric": [">=", 100]}]}}


@pytest.fixture
def events(aws):
    client = boto3.client("events")
    client.create_event_bus(Name="orchestrator")
    return client


@pytest.fixture
def rules(events) -> EventBridgeRules:
    return EventBridgeRules(target_arn=TARGET, bus_name="orchestrator")


def test_an_event_trigger_becomes_a_rule_that_sends_the_event_and_the_trigger_id(events, rules):
    # When the trigger's rule is put
    rules.put_rule("t1", PATTERN, {"trigger_id": "t1"})
    # Then the bus holds a rule with the trigger's pattern, enabled
    rule = events.describe_rule(Name="orchestrator-t1", EventBusName="orchestrator")
    assert json.loads(rule["EventPattern"]) == PATTERN
    assert rule["State"] == "ENABLED"
    # And its one target is the function, sent the whole event beside the trigger id
    [target] = events.list_targets_by_rule(Rule="orchestrator-t1", EventBusName="orchestrator")["Targets"]
    assert (target["Id"], target["Arn"]) == (TARGET_ID, TARGET)
    assert target["InputTransformer"]["InputTemplate"] == '{"event":<aws.events.event.json>,"trigger_id":"t1"}'


def test_putting_it_again_replaces_the_pattern_and_state(events, rules):
    rules.put_rule("t1", PATTERN, {"trigger_id": "t1"})
    rules.put_rule("t1", {"source": ["ci"]}, {"trigger_id": "t1"}, enabled=False)
    rule = events.describe_rule(Name="orchestrator-t1", EventBusName="orchestrator")
    assert (json.loads(rule["EventPattern"]), rule["State"]) == ({"source": ["ci"]}, "DISABLED")
    assert len(events.list_targets_by_rule(Rule="orchestrator-t1", EventBusName="orchestrator")["Targets"]) == 1


def test_deleting_removes_the_rule_and_tolerates_a_missing_one(events, rules):
    rules.put_rule("t1", PATTERN, {"trigger_id": "t1"})
    rules.delete_rule("t1")
    assert [r["Name"] for r in events.list_rules(EventBusName="orchestrator")["Rules"]] == []
    rules.delete_rule("t1")  # already gone: not an error


def test_the_input_template_is_json_once_the_event_is_filled_in():
    template = input_template({"trigger_id": "t1", "n": 2})
    filled = template.replace("<aws.events.event.json>", json.dumps({"source": "x"}))
    assert json.loads(filled) == {"event": {"source": "x"}, "trigger_id": "t1", "n": 2}
    assert json.loads(input_template({}).replace("<aws.events.event.json>", "{}")) == {"event": {}}


def test_names_eventbridge_cannot_take_are_hashed_stably(rules):
    name = rules.rule_name("a trigger id with spaces")
    assert name.startswith("orchestrator-") and len(name) <= 64 and " " not in name
    assert rules.rule_name("a trigger id with spaces") == name


DLQ = "arn:aws:sqs:us-east-1:123456789012:orchestrator-TriggerDeadLetterQueue"


def test_a_failed_invocation_is_retried_then_dead_lettered(events):
    # Given the dead-letter queue and retry bounds from settings (the stack passes the queue's ARN)
    settings = Settings(schedule_target_arn=TARGET, event_bus_name="orchestrator", trigger_dlq_arn=DLQ,
                        trigger_retry_attempts=3, trigger_max_event_age_seconds=600)
    # When the trigger's rule is put
    EventBridgeRules.from_settings(settings).put_rule("t1", PATTERN, {"trigger_id": "t1"})
    # Then its target retries a failing invocation within those bounds, then leaves the event in the queue
    [target] = events.list_targets_by_rule(Rule="orchestrator-t1", EventBusName="orchestrator")["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}
    assert target["DeadLetterConfig"] == {"Arn": DLQ}


def test_without_a_dead_letter_queue_the_target_still_retries_within_an_hour(events, rules):
    rules.put_rule("t1", PATTERN, {"trigger_id": "t1"})
    [target] = events.list_targets_by_rule(Rule="orchestrator-t1", EventBusName="orchestrator")["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600}
    assert "DeadLetterConfig" not in target
