"""Events out of the orchestrator (execution status changes, trigger events) onto an event bus."""

from __future__ import annotations

from typing import Any, Protocol


class EventPublishError(RuntimeError):
    def __init__(self, source: str, detail_type: str, reason: str) -> None:
        self.source = source
        self.detail_type = detail_type
        self.reason = reason
        super().__init__(f"event {detail_type!r} from {source!r} was not published: {reason}")


class EventBus(Protocol):
    def put_event(self, source: str, detail_type: str, detail: dict[str, Any]) -> str:
        """Publish one event; returns its id. Raises EventPublishError."""
