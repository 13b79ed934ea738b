"""The EventRules port on Amazon EventBridge: one rule per event trigger, on the orchestrator's bus.

The rule is named ``<prefix><trigger id>``; its pattern is the trigger's. Its one target (the
TriggerFunction) gets an input transformer that sends ``{"event": <the matched event>, **target_payload}``
(``<aws.events.event.json>`` is EventBridge's predefined variable for the whole original event). The
target needs a resource policy that lets ``events.amazonaws.com`` invoke it for these rules.

Failed deliveries: ``adapters/aws/trigger_delivery.py``.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.adapters.aws.clients import LazyClient, error_code
from orchestrator.adapters.aws.resource_names import trigger_resource_name
from orchestrator.adapters.aws.trigger_delivery import DEFAULT_DELIVERY, TriggerDelivery
from orchestrator.settings import Settings

TARGET_ID = "trigger-function"
_NOT_FOUND = "ResourceNotFoundException"


def input_template(target_payload: dict[str, Any]) -> str:
    """JSON text with the whole event under ``event`` and the payload's keys beside it."""
    payload = json.dumps(target_payload, separators=(",", ":"))[1:-1]
    return '{"event":<aws.events.event.json>' + (f",{payload}" if payload else "") + "}"


class EventBridgeRules:
    def __init__(
        self,
        *,
        target_arn: str,
        bus_name: str = "default",
        name_prefix: str = "orchestrator-",
        delivery: TriggerDelivery = DEFAULT_DELIVERY,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        if not target_arn:
            raise ValueError("EventBridgeRules needs the target ARN (ORCHESTRATOR_SCHEDULE_TARGET_ARN: the TriggerFunction)")
        self.target_arn = target_arn
        self.bus_name = bus_name
        self.name_prefix = name_prefix
        self.delivery = delivery
        self._events = LazyClient("events", region=region, client=client)

    @classmethod
    def from_settings(cls, settings: Settings, client: Any = None) -> EventBridgeRules:
        # the TriggerFunction is the target of both the schedules and the rules
        return cls(
            target_arn=settings.schedule_target_arn or "",
            bus_name=settings.event_bus_name,
            name_prefix=settings.schedule_name_prefix,
            delivery=TriggerDelivery.from_settings(settings),
            region=settings.aws_region,
            client=client,
        )

    def rule_name(self, trigger_id: str) -> str:
        return trigger_resource_name(self.name_prefix, trigger_id)

    def put_rule(
        self, trigger_id: str, pattern: dict[str, Any], target_payload: dict[str, Any], *, enabled: bool = True
    ) -> None:
        client = self._events.get()
        name = self.rule_name(trigger_id)
        # PutRule creates or replaces the rule; PutTargets with the same target id replaces the target
        client.put_rule(
            Name=name,
            EventBusName=self.bus_name,
            EventPattern=json.dumps(pattern),
            State="ENABLED" if enabled else "DISABLED",
            Description=f"orchestrator event trigger {trigger_id}"[:512],
        )
        target: dict[str, Any] = {
            "Id": TARGET_ID,
            "Arn": self.target_arn,
            "InputTransformer": {"InputPathsMap": {}, "InputTemplate": input_template(target_payload)},
            **self.delivery.target_fields(),
        }
        client.put_targets(Rule=name, EventBusName=self.bus_name, Targets=[target])

    def delete_rule(self, trigger_id: str) -> None:
        client = self._events.get()
        name = self.rule_name(trigger_id)
        try:
            # a rule with targets cannot be deleted
            client.remove_targets(Rule=name, EventBusName=self.bus_name, Ids=[TARGET_ID])
            client.delete_rule(Name=name, EventBusName=self.bus_name)
        except ClientError as error:
            if error_code(error) != _NOT_FOUND:
                raise
