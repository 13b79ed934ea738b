"""Triggers fired from outside: events (EventBridge patterns) and webhooks (signed HTTP requests).

Events. ``publish_event`` takes one event in EventBridge's envelope (``source``, ``detail-type``,
``detail``; ``id``, ``time``, ``account``, ``region``, ``version``, ``resources`` are filled in when
missing) and fires every armed event trigger whose pattern matches it (``domain/event_patterns``, the
semantics of EventBridge rules), each with the whole envelope as the execution input. In the cloud the
same triggers are also EventBridge rules on the orchestrator's bus, whose target receives
``{"trigger_id", "event"}`` and calls ``fire_event``; that path re-checks the pattern, so a rule that
lags behind an edit of the trigger cannot fire on the old pattern.

Webhooks. ``receive_webhook`` finds the armed webhook trigger listening at the path (trailing slashes
ignored) with the request's method. When the trigger has a ``secret`` (a literal, or a
``{{secrets.name}}`` template resolved through the Secrets port) the request must carry
``X-Orchestrator-Timestamp`` (Unix seconds, within ``tolerance`` of the server's clock, either way) and
``X-Orchestrator-Signature: sha256=<hex HMAC-SHA256 over f"{timestamp}.{body}">``, exactly what the
``webhook`` step sends (``steps.webhook.sign``); the comparison takes constant time. A signed request is
accepted once: its signature is claimed in the store (``ports/webhook_deliveries.py``) until the
tolerance window closes, so a replay, from any process, starts nothing and answers ``WebhookReplayed``
with the first delivery's execution id. Without a secret the path itself is the only credential (and
nothing tells a repeated request from a new one). Refusals name the path, never a trigger's or
workflow's id: the caller has no API key. The body becomes the input: a JSON object as is, any other JSON
value or non-JSON text as ``{"body": ...}``, an empty body as ``{}``; a body that claims to be JSON
(Content-Type) and does not parse is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.domain.event_patterns import InvalidEventPattern, matches
from orchestrator.domain.records import ExecutionRecord, TriggerRecord, TriggerType
from orchestrator.domain.strict_json import UnsafeJson, strict_loads
from orchestrator.domain.templates import TemplateError, render
from orchestrator.domain.workflow import WebhookConfig, webhook_path
from orchestrator.observability import logger
from orchestrator.ports.webhook_deliveries import WebhookDelivery
from orchestrator.services.trigger_configs import event_config, webhook_config
from orchestrator.services.trigger_errors import (
    InvalidEvent,
    InvalidTriggerConfig,
    InvalidWebhookPayload,
    TriggerError,
    TriggerInactive,
    WebhookMethodNotAllowed,
    WebhookNotFound,
    WebhookSecretUnavailable,
    WebhookUnauthorized,
)
from orchestrator.services.trigger_firing import TriggerFirer
from orchestrator.services.trigger_registry import ArmedTrigger, TriggerRegistry
from orchestrator.steps.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

DEFAULT_SIGNATURE_TOLERANCE = timedelta(minutes=5)
#: how much longer than the tolerance a delivery's signature is remembered (clocks of several processes)
REPLAY_MEMORY_MARGIN = timedelta(minutes=1)
#: EventBridge retries a target for at most 24 hours (MaximumEventAgeInSeconds)
EVENT_REDELIVERY_WINDOW = timedelta(hours=24, minutes=5)
ENVELOPE_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")
LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "local"


class WebhookReplayed(TriggerError):
    """This signed request was accepted before (within its signature's window): nothing new starts."""

    code = "webhook_replayed"


def delivery_key(trigger_id: str, signature: str) -> str:
    """What a delivery is remembered by: the trigger and the signature (which covers timestamp and body)."""
    return hashlib.sha256(f"{trigger_id}\n{signature}".encode()).hexdigest()


def event_envelope(event: Any, *, now: datetime, account: str = LOCAL_ACCOUNT, region: str = LOCAL_REGION
                   ) -> dict[str, Any]:
    """The event in EventBridge's envelope, missing fields filled in; InvalidEvent listing the problems."""
    if not isinstance(event, Mapping):
        raise InvalidEvent("an event is a JSON object with source, detail-type and detail")
    problems = [f"unknown field {name!r} (an event has {', '.join(ENVELOPE_FIELDS)})"
                for name in event if name not in ENVELOPE_FIELDS]
    for name in ("source", "detail-type"):
        if not isinstance(event.get(name), str) or not event[name].strip():
            problems.append(f"{name!r} is required: a non-empty string")
    for name in ("version", "id", "account", "time", "region"):
        if name in event and not isinstance(event[name], str):
            problems.append(f"{name!r} must be a string")
    resources = event.get("resources", [])
    if not isinstance(resources, list) or not all(isinstance(item, str) for item in resources):
        problems.append("'resources' must be a list of strings")
    detail = _detail(event.get("detail", {}), problems)
    if problems:
        raise InvalidEvent("invalid event: " + "; ".join(problems), {"problems": problems})
    return {
        "version": event.get("version", "0"),
        "id": event.get("id") or str(uuid.uuid4()),
        "detail-type": event["detail-type"],
        "source": event["source"],
        "account": event.get("account") or account,
        "time": event.get("time") or now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": event.get("region") or region,
        "resources": resources,
        "detail": detail,
    }


def _detail(detail: Any, problems: list[str]) -> dict[str, Any]:
    if isinstance(detail, str):  # PutEvents carries the detail as JSON text
        try:
            detail = strict_loads(detail, where="detail")
        except UnsafeJson as unsafe:
            problems.append(f"'detail' is not acceptable JSON: {unsafe}")
            return {}
        except ValueError:
            problems.append("'detail' is text that is not JSON")
            return {}
    if not isinstance(detail, dict):
        problems.append("'detail' must be a JSON object")
        return {}
    return detail


def webhook_input(body: bytes, content_type: str = "") -> Any:
    """The execution input a webhook body makes (see the module doc)."""
    text = body.decode("utf-8", errors="replace")
    if not text.strip():
        return {}
    try:
        value = strict_loads(text)
    except UnsafeJson as unsafe:  # JSON, but too deep or with values no store can keep
        raise InvalidWebhookPayload(f"the body is not acceptable JSON: {unsafe}",
                                    {"location": unsafe.location}) from None
    except ValueError:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type == "application/json" or media_type.endswith("+json"):
            raise InvalidWebhookPayload("the body is not valid JSON, as its Content-Type says it is") from None
        return {"body": text}
    return value if isinstance(value, dict) else {"body": value}


@dataclass
class InboundTriggers:
    registry: TriggerRegistry
    firer: TriggerFirer
    #: a secret's value by (owner, name); raises LookupError (SecretNotFound) when there is none
    secret: Callable[[str | None, str], str]
    clock: Callable[[], datetime]
    signature_tolerance: timedelta = field(default=DEFAULT_SIGNATURE_TOLERANCE)
    account: str = LOCAL_ACCOUNT
    region: str = LOCAL_REGION

    # -- events -------------------------------------------------------------------------------------------

    def publish_event(self, event: Any, *, owner_id: str | None = None) -> list[ExecutionRecord]:
        """Fire every armed event trigger (of ``owner_id``'s workflows, when given) that matches."""
        envelope = event_envelope(event, now=self.clock(), account=self.account, region=self.region)
        started: list[ExecutionRecord] = []
        for armed in self.registry.armed(TriggerType.EVENT, owner_id=owner_id):
            if not self._matches(armed.trigger, envelope):
                continue
            try:
                started.append(self.firer.fire(armed.trigger, envelope, reason="event"))
            except TriggerInactive as inactive:  # paused between the lookup and the fire
                logger.info("event trigger skipped", extra={"trigger_id": armed.trigger.id, "why": inactive.message})
            except Exception:  # the other matching triggers still fire
                logger.exception("event trigger failed to fire", extra={"trigger_id": armed.trigger.id})
        logger.info("event published", extra={"event_id": envelope["id"], "source": envelope["source"],
                                               "detail_type": envelope["detail-type"], "started": len(started)})
        return started

    def fire_event(self, trigger_id: str, event: Any) -> ExecutionRecord | None:
        """One trigger's EventBridge rule matched ``event`` (the cloud path). None when the trigger is gone,
        not armed, or its current pattern no longer matches."""
        envelope = event_envelope(event, now=self.clock(), account=self.account, region=self.region)
        trigger = self.registry.store.get_trigger(trigger_id)
        if trigger is None or trigger.type is not TriggerType.EVENT or not self._matches(trigger, envelope):
            logger.warning("rule event for a missing trigger, or one whose pattern changed",
                           extra={"trigger_id": trigger_id, "event_id": envelope["id"]})
            return None
        # EventBridge delivers at least once (a target's retry policy redelivers after a timeout): the
        # event's id, claimed for as long as redeliveries may come, makes the second delivery start nothing
        try:
            started = self._fire_once(f"event:{trigger_id}:{envelope['id']}", self.clock() + EVENT_REDELIVERY_WINDOW,
                                      lambda: self.firer.fire(trigger, envelope, reason="event"))
        except TriggerInactive as inactive:
            logger.info("event trigger skipped", extra={"trigger_id": trigger_id, "why": inactive.message})
            return None
        if isinstance(started, WebhookDelivery):
            logger.info("redelivered event ignored", extra={"trigger_id": trigger_id, "event_id": envelope["id"],
                                                            "execution_id": started.execution_id})
            return None
        return started

    def _fire_once(self, key: str, expires_at: datetime, fire: Callable[[], ExecutionRecord]
                   ) -> ExecutionRecord | WebhookDelivery:
        """``fire()``, unless a delivery of ``key`` was accepted before: then that earlier delivery. A fire that
        raises gives the claim up (nothing started), so that the sender's retry can be accepted."""
        deliveries = self.registry.store.webhook_deliveries
        earlier = deliveries.claim(key, expires_at, now=self.clock())
        if earlier is not None:
            return earlier
        try:
            execution = fire()
        except BaseException:
            deliveries.release(key)
            raise
        deliveries.complete(key, execution.id)
        return execution

    @staticmethod
    def _matches(trigger: TriggerRecord, envelope: dict[str, Any]) -> bool:
        try:
            return matches(event_config(trigger).pattern, envelope)
        except (InvalidTriggerConfig, InvalidEventPattern) as error:
            logger.warning("event trigger with an invalid pattern ignored", extra={"trigger_id": trigger.id,
                                                                                  "error": str(error)})
            return False

    # -- webhooks -----------------------------------------------------------------------------------------

    def receive_webhook(self, path: str, body: bytes, headers: Mapping[str, str], *, method: str = "POST"
                        ) -> ExecutionRecord:
        """Verify and fire the webhook trigger at ``path``. Raises WebhookNotFound,
        WebhookMethodNotAllowed, WebhookUnauthorized, WebhookSecretUnavailable, InvalidWebhookPayload,
        TriggerInactive."""
        wanted, method = webhook_path(path), method.upper()
        listening = self.webhooks_at(wanted)
        if not listening:
            raise WebhookNotFound(f"no webhook trigger listens at {wanted}", {"path": wanted})
        taking = [(armed, config) for armed, config in listening if config.method == method]
        if not taking:
            allowed = sorted({config.method for _, config in listening})
            raise WebhookMethodNotAllowed(f"the webhook at {wanted} takes {', '.join(allowed)}, not {method}",
                                          {"path": wanted, "allowed": allowed})
        if len(taking) > 1:
            logger.warning("several webhook triggers share a path and method; the oldest fires",
                           extra={"path": wanted, "method": method, "triggers": [a.trigger.id for a, _ in taking]})
        armed, config = min(taking, key=lambda pair: (pair[0].trigger.created_at, pair[0].trigger.id))
        lowered = {name.lower(): value for name, value in headers.items()}
        if not config.secret:
            payload = webhook_input(body, lowered.get("content-type", ""))
            return self._fire_webhook(armed.trigger, payload, wanted)
        signature, sent_at = self._verify_signature(self._resolve_secret(armed.trigger, config.secret), body, lowered)
        started = self._fire_once(
            delivery_key(armed.trigger.id, signature), sent_at + self.signature_tolerance + REPLAY_MEMORY_MARGIN,
            lambda: self._fire_webhook(armed.trigger, webhook_input(body, lowered.get("content-type", "")), wanted))
        if isinstance(started, WebhookDelivery):
            logger.warning("replayed webhook delivery refused", extra={"path": wanted, "trigger_id": armed.trigger.id,
                                                                       "execution_id": started.execution_id})
            raise WebhookReplayed(
                f"this signed request to {wanted} was already accepted; a replay starts nothing",
                {"path": wanted, "execution_id": started.execution_id})
        return started

    def _fire_webhook(self, trigger: TriggerRecord, payload: Any, path: str) -> ExecutionRecord:
        try:
            return self.firer.fire(trigger, payload, reason="webhook")
        except TriggerInactive as inactive:  # its details name the trigger and the workflow: not for this caller
            logger.info("webhook trigger inactive", extra={"trigger_id": trigger.id, "why": inactive.message})
            raise TriggerInactive(f"the webhook at {path} is not active", {"path": path}) from None

    def webhooks_at(self, path: str) -> list[tuple[ArmedTrigger, WebhookConfig]]:
        """The armed webhook triggers whose path is ``path``, whatever their method."""
        found = []
        for armed in self.registry.armed(TriggerType.WEBHOOK):
            try:
                config = webhook_config(armed.trigger)
            except InvalidTriggerConfig:
                continue
            if webhook_path(config.path) == webhook_path(path):
                found.append((armed, config))
        return found

    def _resolve_secret(self, trigger: TriggerRecord, template: str) -> str:
        try:
            value = render(template, {}, secrets=lambda name: self.secret(trigger.owner_id, name)).value
        except TemplateError as error:
            logger.error("webhook secret cannot be resolved", extra={"trigger_id": trigger.id, "error": str(error)})
            raise WebhookSecretUnavailable("the webhook's secret cannot be resolved now; try again later") from None
        if not isinstance(value, str) or not value:
            logger.error("webhook secret is empty", extra={"trigger_id": trigger.id})
            raise WebhookSecretUnavailable("the webhook's secret is empty")
        return value

    def _verify_signature(self, secret: str, body: bytes, headers: Mapping[str, str]) -> tuple[str, datetime]:
        """The signature and the time it was made at, once both are checked; WebhookUnauthorized otherwise."""
        timestamp = headers.get(TIMESTAMP_HEADER.lower(), "").strip()
        signature = headers.get(SIGNATURE_HEADER.lower(), "").strip()
        if not timestamp or not signature:
            raise WebhookUnauthorized(f"this webhook needs the {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers")
        try:
            sent_at = datetime.fromtimestamp(int(timestamp), UTC)
        except (ValueError, OverflowError, OSError):
            raise WebhookUnauthorized(f"{TIMESTAMP_HEADER} must be Unix seconds, got {timestamp[:40]!r}") from None
        skew = abs(self.clock() - sent_at)
        if skew > self.signature_tolerance:
            raise WebhookUnauthorized(
                f"{TIMESTAMP_HEADER} is {int(skew.total_seconds())} s away from the server's clock (at most "
                f"{int(self.signature_tolerance.total_seconds())} s): a replayed or delayed request")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookUnauthorized("the body is not UTF-8 text, so its signature cannot match") from None
        if not hmac.compare_digest(sign(secret, timestamp, text).encode(), signature.encode()):
            raise WebhookUnauthorized("the signature does not match the body")
        return signature, sent_at
