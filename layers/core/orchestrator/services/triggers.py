"""The trigger use cases in one place: keeping triggers armed, and firing them.

Triggers (seed 002): manual, schedule, event, webhook, condition. Only enabled triggers of ACTIVE
workflows start executions (``trigger_firing.py``); each fire goes through ``ExecutionService.submit``
with the trigger's id and then counts in ``trigger_count`` / ``last_triggered``. Manual runs are the
API's business (``POST /workflows/{id}/execute``), not a trigger's.

| type      | local engine                                    | cloud                                          |
| --------- | ----------------------------------------------- | ---------------------------------------------- |
| schedule  | ``tick`` from the in-process ticker             | an EventBridge Scheduler schedule per trigger  |
|           |                                                 | -> TriggerFunction -> ``fire_scheduled``       |
| event     | ``publish_event`` (``POST /api/v1/events``)     | the same, plus an EventBridge rule per trigger |
|           |                                                 | -> TriggerFunction -> ``fire_event``           |
| webhook   | ``receive_webhook`` (``POST /webhooks/{path}``) | the same, behind API Gateway                   |
| condition | ``poll_conditions`` from the ticker             | ``poll_conditions`` from a scheduled invocation |

The modules: ``schedule_ticker`` (slots, claims, the misfire policy), ``inbound_triggers`` (events,
webhooks and their signatures), ``condition_poller`` + ``condition_sources`` (polling, edge state),
``trigger_registry`` (which triggers are armed), ``trigger_configs`` (reading and checking configs).

Keeping the platform in step: the API calls ``check_trigger`` before it saves a trigger,
``on_trigger_saved`` after it created or updated one, ``on_trigger_deleted`` after a delete, and
``sync_workflow_triggers`` after a workflow is deleted (its triggers were disabled by the store).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from orchestrator.domain.records import ExecutionRecord, TriggerRecord, TriggerType, utcnow
from orchestrator.domain.schedule import DEFAULT_MISFIRE_GRACE, ScheduleError, to_scheduler_expression
from orchestrator.domain.workflow import webhook_path
from orchestrator.observability import logger
from orchestrator.ports.event_rules import EventRules
from orchestrator.ports.schedules import Schedules
from orchestrator.ports.secrets import SecretResolver
from orchestrator.ports.store import Store
from orchestrator.services.condition_poller import ConditionPoller
from orchestrator.services.condition_sources import ConditionSourceReader
from orchestrator.services.executions import ExecutionService
from orchestrator.services.inbound_triggers import (
    DEFAULT_SIGNATURE_TOLERANCE,
    LOCAL_ACCOUNT,
    LOCAL_REGION,
    InboundTriggers,
)
from orchestrator.services.schedule_ticker import ScheduleTicker
from orchestrator.services.trigger_configs import (
    config_problems,
    event_config,
    schedule_config,
    webhook_config,
)
from orchestrator.services.trigger_errors import InvalidTriggerConfig
from orchestrator.services.trigger_firing import TriggerFirer
from orchestrator.services.trigger_registry import TriggerRegistry
from orchestrator.settings import get_settings
from orchestrator.steps.egress import EgressPolicy

#: what EventBridge Scheduler sends the TriggerFunction; it fills in the placeholder for each slot
SCHEDULER_SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


class TriggerService:
    def __init__(
        self,
        store: Store,
        executions: ExecutionService,
        schedules: Schedules | None = None,
        clock: Callable[[], datetime] = utcnow,
        *,
        event_rules: EventRules | None = None,
        secrets: SecretResolver | None = None,
        egress: EgressPolicy | None = None,
        misfire_grace: timedelta = DEFAULT_MISFIRE_GRACE,
        signature_tolerance: timedelta = DEFAULT_SIGNATURE_TOLERANCE,
        account: str = LOCAL_ACCOUNT,
        region: str = LOCAL_REGION,
    ) -> None:
        self.store = store
        self.schedules = schedules
        self.event_rules = event_rules
        self.clock = clock
        self._secrets = secrets
        self.registry = TriggerRegistry(store)
        self.firer = TriggerFirer(store, executions, self.registry, clock)
        self.schedule_ticker = ScheduleTicker(store, self.firer, misfire_grace)
        self.inbound = InboundTriggers(self.registry, self.firer, self._secret, clock, signature_tolerance,
                                       account, region)
        reader = ConditionSourceReader(self._secret, egress or EgressPolicy.from_settings(get_settings()))
        self.conditions = ConditionPoller(store, self.registry, self.firer, reader)

    # -- keeping triggers armed ------------------------------------------------------------------------------

    def check_trigger(self, trigger: TriggerRecord) -> None:
        """InvalidTriggerConfig listing every reason the trigger cannot work; nothing is changed."""
        problems = config_problems(trigger.type, trigger.config)
        if not problems and trigger.type is TriggerType.SCHEDULE:
            problems = self._schedule_problems(trigger)
        if not problems and trigger.type is TriggerType.WEBHOOK and trigger.is_enabled:
            problems = self._webhook_clashes(trigger)
        if problems:
            raise InvalidTriggerConfig(trigger.type.value, problems)

    def on_trigger_saved(self, trigger: TriggerRecord) -> TriggerRecord:
        """After a create or update: arm the trigger (its next fire or poll time; in the cloud its
        schedule or rule). Returns the trigger as stored now. InvalidTriggerConfig if it cannot work."""
        self.check_trigger(trigger)
        now = self.clock()
        if trigger.type is TriggerType.SCHEDULE:
            config = schedule_config(trigger)
            if self.schedules is not None:
                self.schedules.put_schedule(
                    trigger.id, config.cron, config.timezone,
                    {"trigger_id": trigger.id, "scheduled_time": SCHEDULER_SCHEDULED_TIME}, enabled=trigger.is_enabled,
                )
            first = self.schedule_ticker.first_slot(trigger, now) if trigger.is_enabled else None
            return self.store.update_trigger(trigger.id, next_fire_at=first)
        if trigger.type is TriggerType.CONDITION:
            # next_fire_at of a condition trigger is its next poll: at once
            return self.store.update_trigger(trigger.id, next_fire_at=now if trigger.is_enabled else None)
        if trigger.type is TriggerType.EVENT and self.event_rules is not None:
            self.event_rules.put_rule(trigger.id, event_config(trigger).pattern, {"trigger_id": trigger.id},
                                      enabled=trigger.is_enabled)
        return trigger

    def on_trigger_deleted(self, trigger: TriggerRecord) -> None:
        """After a delete: remove what the platform holds for it."""
        if trigger.type is TriggerType.SCHEDULE and self.schedules is not None:
            self.schedules.delete_schedule(trigger.id)
        if trigger.type is TriggerType.EVENT and self.event_rules is not None:
            self.event_rules.delete_rule(trigger.id)

    def sync_workflow_triggers(self, workflow_id: str) -> None:
        """Re-arm every trigger of the workflow as stored (after a workflow delete disabled them)."""
        for trigger in self.store.list_triggers(workflow_id):
            try:
                self.on_trigger_saved(trigger)
            except InvalidTriggerConfig as error:
                logger.warning("trigger left unarmed: invalid config", extra={"trigger_id": trigger.id,
                                                                              "error": error.message})

    # -- firing -------------------------------------------------------------------------------------------------

    def fire(self, trigger: TriggerRecord, input: Any, *, reason: str) -> ExecutionRecord:
        """Start the trigger's workflow now; TriggerInactive unless the trigger is armed."""
        return self.firer.fire(trigger, input, reason=reason)

    def tick(self, now: datetime | None = None) -> list[ExecutionRecord]:
        """Fire the due schedule slots (local engine; see schedule_ticker for the misfire policy)."""
        return self.schedule_ticker.tick(now or self.clock())

    def poll_conditions(self, now: datetime | None = None) -> list[ExecutionRecord]:
        """Poll the condition triggers whose interval elapsed; fire those that turned true."""
        return self.conditions.poll(now or self.clock())

    def run_due(self, now: datetime | None = None) -> list[ExecutionRecord]:
        """Everything time-driven: the local ticker's callback."""
        now = now or self.clock()
        return [*self.tick(now), *self.poll_conditions(now)]

    def fire_scheduled(self, trigger_id: str, scheduled_time: str | datetime) -> ExecutionRecord | None:
        """A slot fired by EventBridge Scheduler; idempotent per (trigger, slot)."""
        return self.schedule_ticker.fire_scheduled(trigger_id, scheduled_time, self.clock())

    def publish_event(self, event: Any, *, owner_id: str | None = None) -> list[ExecutionRecord]:
        return self.inbound.publish_event(event, owner_id=owner_id)

    def fire_event(self, trigger_id: str, event: Any) -> ExecutionRecord | None:
        return self.inbound.fire_event(trigger_id, event)

    def receive_webhook(self, path: str, body: bytes, headers: Mapping[str, str], *, method: str = "POST"
                        ) -> ExecutionRecord:
        return self.inbound.receive_webhook(path, body, headers, method=method)

    def condition_state(self, trigger_id: str) -> dict[str, Any] | None:
        return self.conditions.state(trigger_id)

    def handle_invocation(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """The TriggerFunction's one call. Payloads: ``{"trigger_id", "scheduled_time"}`` (Scheduler),
        ``{"trigger_id", "event"}`` (an event trigger's rule), ``{"action": "poll_conditions"}`` (a
        scheduled poll). Returns what was started, for the log."""
        if payload.get("action") == "poll_conditions":
            return {"started": [execution.id for execution in self.poll_conditions()]}
        trigger_id = payload.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id:
            raise ValueError(f"unknown trigger invocation: {sorted(payload)}")
        if "scheduled_time" in payload:
            execution = self.fire_scheduled(trigger_id, payload["scheduled_time"])
        elif "event" in payload:
            execution = self.fire_event(trigger_id, payload["event"])
        else:
            raise ValueError(f"trigger invocation for {trigger_id!r} has neither scheduled_time nor event")
        return {"started": [execution.id] if execution is not None else []}

    # -- helpers --------------------------------------------------------------------------------------------

    def _schedule_problems(self, trigger: TriggerRecord) -> list[str]:
        try:
            self.schedule_ticker.first_slot(trigger, self.clock())
            if self.schedules is not None:
                to_scheduler_expression(schedule_config(trigger).cron)
        except InvalidTriggerConfig as error:
            return error.problems
        except ScheduleError as error:
            return [f"config.cron: {error}"]
        return []

    def _webhook_clashes(self, trigger: TriggerRecord) -> list[str]:
        config = webhook_config(trigger)
        for other in self.registry.enabled(TriggerType.WEBHOOK):
            if other.id == trigger.id:
                continue
            try:
                taken = webhook_config(other)
            except InvalidTriggerConfig:
                continue
            if webhook_path(taken.path) == webhook_path(config.path) and taken.method == config.method:
                # never the other trigger's id: it may be another owner's
                taken_at = f"{config.method} {webhook_path(config.path)}"
                return [f"config.path: {taken_at} is taken by another webhook trigger"]
        return []

    def _secret(self, owner_id: str | None, name: str) -> str:
        """The trigger owner's secret: a webhook or a condition source reads its own owner's, nobody else's."""
        if self._secrets is None:
            raise LookupError(f"secret '{name}' cannot be read: this trigger service was built without secrets")
        return self._secrets.for_owner(owner_id).get(name)
