"""How EventBridge delivers a trigger's event to the TriggerFunction: schedules and rules alike.

A failed delivery (the function throttled or broken) is retried up to ``retry_attempts`` times within
``max_event_age_seconds``; then the event goes to the dead-letter queue, when one is configured
(template.yaml's TriggerDeadLetterQueue, alarmed), instead of being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.settings import Settings


@dataclass(frozen=True)
class TriggerDelivery:
    dead_letter_arn: str | None = None
    retry_attempts: int = 10
    max_event_age_seconds: int = 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> TriggerDelivery:
        return cls(settings.trigger_dlq_arn or None, settings.trigger_retry_attempts,
                   settings.trigger_max_event_age_seconds)

    def target_fields(self) -> dict[str, Any]:
        """RetryPolicy (and DeadLetterConfig) as both a Scheduler target and a rule target spell them."""
        fields: dict[str, Any] = {"RetryPolicy": {"MaximumRetryAttempts": self.retry_attempts,
                                                  "MaximumEventAgeInSeconds": self.max_event_age_seconds}}
        if self.dead_letter_arn:
            fields["DeadLetterConfig"] = {"Arn": self.dead_letter_arn}
        return fields


#: retries, no dead-letter queue
DEFAULT_DELIVERY = TriggerDelivery()
