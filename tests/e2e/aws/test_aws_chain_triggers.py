"""Schedule and event triggers on the AWS chain: the ApiFunction arms an EventBridge Scheduler schedule or
rule on moto; what they would send the TriggerFunction is built from what the ApiFunction armed, and
delivered twice (both services deliver at least once): one execution each, which then runs to the end."""

from __future__ import annotations

from typing import Any

from support.aws_chain import AwsChain, deploy, eventbridge_event, execution

ONE_STEP = [{"id": "only", "type": "condition", "config": {"expression": "true"}}]


def _trigger(chain: AwsChain, workflow_id: str, trigger_type: str, config: dict[str, Any]) -> dict[str, Any]:
    created = chain.api("POST", f"/api/v1/workflows/{workflow_id}/triggers", {"type": trigger_type, "config": config})
    assert created.status == 201, created.body
    return dict(created.body)


def _executions_of(chain: AwsChain, workflow_id: str) -> list[dict[str, Any]]:
    listed = chain.api("GET", "/api/v1/executions", query={"workflow_id": workflow_id})
    assert listed.status == 200, listed.body
    return list(listed.body["items"])


def test_a_schedule_slot_delivered_twice_by_eventbridge_scheduler_starts_one_execution(chain: AwsChain) -> None:
    # Given an active workflow with a schedule trigger, armed by the ApiFunction as a Scheduler schedule
    workflow_id = deploy(chain, {"name": "nightly", "steps": ONE_STEP})
    trigger = _trigger(chain, workflow_id, "schedule", {"cron": "* * * * *", "timezone": "UTC"})
    assert trigger["next_fire_at"], trigger
    payload = chain.schedule_payload(trigger["id"], trigger["next_fire_at"])
    assert payload == {"trigger_id": trigger["id"], "scheduled_time": trigger["next_fire_at"]}
    # When Scheduler invokes the TriggerFunction for that slot, and (at least once) again
    first = chain.invoke("TriggerFunction", payload)
    second = chain.invoke("TriggerFunction", payload)
    # Then one execution started, by the trigger
    [started] = first["started"]
    assert second == {"started": []}
    [listed] = _executions_of(chain, workflow_id)
    assert (listed["id"], listed["trigger_id"]) == (started, trigger["id"])
    # And it runs to the end through the chain
    assert chain.run_to_end(started)["status"] == "SUCCEEDED"
    assert execution(chain, started)["status"] == "completed"


def test_an_event_delivered_twice_by_an_eventbridge_rule_starts_one_execution(chain: AwsChain) -> None:
    # Given an active workflow with an event trigger, armed by the ApiFunction as an EventBridge rule
    workflow_id = deploy(chain, {"name": "on-order", "steps": ONE_STEP})
    trigger = _trigger(chain, workflow_id, "event",
                       {"pattern": {"source": ["shop.orders"], "detail-type": ["OrderPlaced"]}})
    event = eventbridge_event("shop.orders", "OrderPlaced", {"order_id": "o-1", "total": 42})
    payload = chain.rule_payload(trigger["id"], event)  # the rule's pattern matches it
    assert payload["trigger_id"] == trigger["id"]
    assert payload["event"] == event
    # When the rule invokes the TriggerFunction with the event, and (at least once) again with the same event
    first = chain.invoke("TriggerFunction", payload)
    second = chain.invoke("TriggerFunction", payload)
    # Then one execution started, by the trigger
    [started] = first["started"]
    assert second == {"started": []}, "a redelivered event (same id) started a second execution"
    [listed] = _executions_of(chain, workflow_id)
    assert (listed["id"], listed["trigger_id"]) == (started, trigger["id"])
    assert chain.run_to_end(started)["status"] == "SUCCEEDED"
    assert execution(chain, started)["status"] == "completed"
