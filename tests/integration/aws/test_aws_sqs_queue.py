"""The Queue port on SQS (moto): priority routing, the message contract, FIFO dedup, the DLQ redrive."""

from __future__ import annotations

import json

import boto3
import pytest

from orchestrator.adapters.aws.sqs_queue import SqsQueue, decode_message, encode_message
from orchestrator.ports.queue import QueueSendError
from orchestrator.settings import Settings


@pytest.fixture
def sqs(aws):
    return boto3.client("sqs")


@pytest.fixture
def queues(sqs):
    """TaskQueue and HighPriorityQueue, both redriving to one DLQ after 2 receives (as the template does)."""
    dlq_url = sqs.create_queue(QueueName="orchestrator-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    urls = {
        name: sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": redrive})["QueueUrl"]
        for name in ("orchestrator-tasks", "orchestrator-urgent")
    }
    return {"tasks": urls["orchestrator-tasks"], "urgent": urls["orchestrator-urgent"], "dlq": dlq_url}


def received(sqs, url: str) -> list[dict]:
    return sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
    ).get("Messages", [])


def test_priority_picks_the_queue(sqs, queues):
    # Given a queue pair with the default threshold (8)
    queue = SqsQueue(queues["tasks"], queues["urgent"], client=sqs)
    # When executions of priority 0, 7, 8 and 10 are sent
    for execution_id, priority in [("e0", 0), ("e7", 7), ("e8", 8), ("e10", 10)]:
        queue.send(execution_id, priority=priority)
    # Then 8 and above went to the high-priority queue, the rest to the task queue
    assert sorted(decode_message(m["Body"]) for m in received(sqs, queues["urgent"])) == ["e10", "e8"]
    assert sorted(decode_message(m["Body"]) for m in received(sqs, queues["tasks"])) == ["e0", "e7"]


def test_the_message_is_the_execution_id_with_its_priority_as_an_attribute(sqs, queues):
    SqsQueue(queues["tasks"], queues["urgent"], client=sqs).send("exec-1", priority=3)
    [message] = received(sqs, queues["tasks"])
    assert json.loads(message["Body"]) == {"execution_id": "exec-1"}
    assert message["MessageAttributes"]["priority"] == {"StringValue": "3", "DataType": "Number"}


def test_without_a_high_priority_queue_everything_goes_to_the_task_queue(sqs, queues):
    queue = SqsQueue(queues["tasks"], client=sqs)
    queue.send("urgent", priority=10)
    assert [decode_message(m["Body"]) for m in received(sqs, queues["tasks"])] == ["urgent"]


def test_settings_configure_the_queue(sqs, queues):
    # Given settings with both URLs and a lower threshold / When priority 5 is sent / Then it is urgent
    settings = Settings(task_queue_url=queues["tasks"], high_priority_queue_url=queues["urgent"],
                        high_priority_threshold=5)
    SqsQueue.from_settings(settings).send("e5", priority=5)  # the client is made lazily, in the mock
    assert [decode_message(m["Body"]) for m in received(sqs, queues["urgent"])] == ["e5"]


def test_settings_without_a_task_queue_url_are_refused():
    with pytest.raises(ValueError, match="ORCHESTRATOR_TASK_QUEUE_URL"):
        SqsQueue.from_settings(Settings(task_queue_url=None))


def test_a_fifo_queue_drops_a_resent_execution(sqs):
    # Given a FIFO queue
    url = sqs.create_queue(QueueName="orchestrator-tasks.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    queue = SqsQueue(url, client=sqs)
    # When one execution is sent twice (the reconciler re-sending it) and another once
    queue.send("exec-1")
    queue.send("exec-1")
    queue.send("exec-2")
    # Then the duplicate was dropped by SQS's deduplication
    assert sorted(decode_message(m["Body"]) for m in received(sqs, url)) == ["exec-1", "exec-2"]


def test_a_message_received_too_often_moves_to_the_dlq(sqs, queues):
    # Given a message whose consumer keeps failing (never deletes it)
    SqsQueue(queues["tasks"], client=sqs).send("poison")
    # When it has been received maxReceiveCount (2) times
    assert len(received(sqs, queues["tasks"])) == 1
    assert len(received(sqs, queues["tasks"])) == 1
    # Then the next receive finds it gone from the queue and in the DLQ
    assert received(sqs, queues["tasks"]) == []
    assert [decode_message(m["Body"]) for m in received(sqs, queues["dlq"])] == ["poison"]


def test_a_send_that_fails_names_the_execution(sqs):
    # Given a queue URL that does not exist / When sending / Then QueueSendError says which execution and why
    queue = SqsQueue("https://sqs.us-east-1.amazonaws.com/123456789012/missing", client=sqs)
    with pytest.raises(QueueSendError, match="cannot enqueue execution 'exec-1': .*NonExistentQueue") as raised:
        queue.send("exec-1")
    assert raised.value.execution_id == "exec-1"


@pytest.mark.parametrize(
    ("body", "problem"),
    [("not json", "not JSON"), ('{"id": "x"}', "is not"), ('["exec"]', "is not"), ('{"execution_id": ""}', "is not")],
)
def test_a_body_that_is_not_a_message_is_refused(body, problem):
    with pytest.raises(ValueError, match=problem):
        decode_message(body)


def test_encode_and_decode_agree():
    assert decode_message(encode_message("exec-ü")) == "exec-ü"
