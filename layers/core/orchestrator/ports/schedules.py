"""Cron schedules of schedule triggers, held by the platform: EventBridge Scheduler in the cloud.

One schedule per trigger, named after the trigger id. When it fires, the target receives
``target_payload`` (JSON) and creates the execution through the same outbox as every other trigger.
Locally no adapter is needed: the in-process ticker (``adapters/local/ticker.py``) claims due schedule
triggers from the store.
"""

from __future__ import annotations

from typing import Any, Protocol


class Schedules(Protocol):
    def put_schedule(
        self, trigger_id: str, cron: str, timezone: str, target_payload: dict[str, Any], *, enabled: bool = True
    ) -> None:
        """Create the trigger's schedule or replace it. ``cron`` is 5-field cron evaluated in ``timezone``
        (IANA name). Raises ScheduleError (orchestrator.domain.schedule) for a cron the platform cannot run."""

    def delete_schedule(self, trigger_id: str) -> None:
        """Delete the trigger's schedule; deleting one that does not exist is not an error."""
