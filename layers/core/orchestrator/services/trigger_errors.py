"""What the trigger use cases refuse, each with the API error code it is reported under.

The services know nothing of HTTP; ``api/routers/inbound.py`` maps each class to a status code. ``code``
is the stable machine-readable name, the message is for people, ``details`` holds structured context.
"""

from __future__ import annotations

from typing import Any


class TriggerError(Exception):
    code = "trigger_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidTriggerConfig(TriggerError):
    """A trigger's config cannot work (bad cron, bad pattern, unreadable condition source, taken path)."""

    code = "invalid_trigger_config"

    def __init__(self, trigger_type: str, problems: list[str]) -> None:
        super().__init__(f"invalid {trigger_type} trigger: " + "; ".join(problems), {"problems": problems})
        self.problems = problems


class TriggerInactive(TriggerError):
    """The trigger may not start executions now: it is disabled, or its workflow is not active."""

    code = "trigger_inactive"


class WebhookNotFound(TriggerError):
    code = "not_found"


class WebhookMethodNotAllowed(TriggerError):
    code = "method_not_allowed"


class WebhookUnauthorized(TriggerError):
    """A missing, malformed, stale or wrong signature: the request does not come from the secret's holder."""

    code = "invalid_signature"


class WebhookSecretUnavailable(TriggerError):
    """The trigger has a secret but it cannot be resolved now: fail closed, the sender should retry."""

    code = "webhook_secret_unavailable"


class InvalidWebhookPayload(TriggerError):
    code = "invalid_payload"


class InvalidEvent(TriggerError):
    code = "invalid_event"
