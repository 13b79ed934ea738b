"""The EventBus port on EventBridge (moto): published events reach a rule's SQS target."""

from __future__ import annotations

import json

import boto3
import pytest

from orchestrator.adapters.aws.event_bus import EventBridgeBus
from orchestrator.ports.event_bus import EventPublishError
from orchestrator.settings import Settings


@pytest.fixture
def subscriber(aws):
    """An SQS queue behind a rule on the bus "orchestrator" matching the orchestrator's status events."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    queue = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.create_event_bus(Name="orchestrator")
    events.put_rule(Name="finished", EventBusName="orchestrator",
                    EventPattern=json.dumps({"source": ["orchestrator"], "detail": {"status": ["SUCCEEDED"]}}))
    events.put_targets(Rule="finished", EventBusName="orchestrator", Targets=[{"Id": "queue", "Arn": queue_arn}])

    def delivered() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return delivered


def test_a_published_event_reaches_the_matching_rule(subscriber):
    # Given a bus with a rule for succeeded executions
    bus = EventBridgeBus.from_settings(Settings(event_bus_name="orchestrator"))
    # When a matching and a non-matching event are published
    event_id = bus.put_event("orchestrator", "Execution Status Change", {"execution_id": "e1", "status": "SUCCEEDED"})
    bus.put_event("orchestrator", "Execution Status Change", {"execution_id": "e2", "status": "FAILED"})
    # Then the matching one arrives, as an EventBridge event with its id, source, type and detail
    [event] = subscriber()
    assert event["id"] == event_id
    assert (event["source"], event["detail-type"]) == ("orchestrator", "Execution Status Change")
    assert event["detail"] == {"execution_id": "e1", "status": "SUCCEEDED"}


def test_the_default_bus(aws):
    assert EventBridgeBus().put_event("orchestrator", "Ping", {})


def test_a_missing_bus_is_a_publish_error(aws):
    with pytest.raises(EventPublishError, match="'Ping' from 'orchestrator' was not published: .*does not exist"):
        EventBridgeBus("no-such-bus").put_event("orchestrator", "Ping", {})


class _RejectingEvents:
    """PutEvents answering 200 with a failed entry, as EventBridge does for throttled or invalid entries."""

    def put_events(self, Entries):  # noqa: N803 (boto3's parameter name)
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}]}


def test_a_failed_entry_is_a_publish_error():
    bus = EventBridgeBus(client=_RejectingEvents())
    with pytest.raises(EventPublishError, match="ThrottlingException: slow down"):
        bus.put_event("orchestrator", "Ping", {})
