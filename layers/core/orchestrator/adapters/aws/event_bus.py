"""The EventBus port on Amazon EventBridge (PutEvents on the configured bus)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.clients import LazyClient, error_message
from orchestrator.ports.event_bus import EventPublishError
from orchestrator.settings import Settings


class EventBridgeBus:
    def __init__(self, bus_name: str = "default", *, region: str | None = None, client: Any = None) -> None:
        self.bus_name = bus_name
        self._events = LazyClient("events", region=region, client=client)

    @classmethod
    def from_settings(cls, settings: Settings, client: Any = None) -> EventBridgeBus:
        return cls(settings.event_bus_name, region=settings.aws_region, client=client)

    def put_event(self, source: str, detail_type: str, detail: dict[str, Any]) -> str:
        entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": self.bus_name}
        try:
            response = self._events.get().put_events(Entries=[entry])
        except ClientError as error:
            raise EventPublishError(source, detail_type, error_message(error)) from error
        except BotoCoreError as error:
            raise EventPublishError(source, detail_type, str(error)) from error
        # PutEvents succeeds as a call while failing entries one by one
        result = response["Entries"][0]
        if response.get("FailedEntryCount") or "EventId" not in result:
            reason = f"{result.get('ErrorCode', 'Unknown')}: {result.get('ErrorMessage', '')}".rstrip(": ")
            raise EventPublishError(source, detail_type, reason)
        return str(result["EventId"])
