"""Event patterns of event triggers, held by the platform: EventBridge rules in the cloud.

One rule per event trigger, named after the trigger id, on the orchestrator's bus. An event that
matches invokes the target with ``{**target_payload, "event": <the whole event>}``; the target fires
that one trigger. Locally no adapter is needed: ``POST /api/v1/events`` matches in-process with the same
semantics (``domain/event_patterns.py``).
"""

from __future__ import annotations

from typing import Any, Protocol


class EventRules(Protocol):
    def put_rule(
        self, trigger_id: str, pattern: dict[str, Any], target_payload: dict[str, Any], *, enabled: bool = True
    ) -> None:
        """Create the trigger's rule or replace its pattern, state and target."""

    def delete_rule(self, trigger_id: str) -> None:
        """Delete the trigger's rule (and its target); deleting one that does not exist is not an error."""
