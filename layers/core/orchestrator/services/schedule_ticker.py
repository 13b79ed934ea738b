"""Schedule triggers: which slot fires when, and the guarantee that no slot fires twice.

A schedule trigger's ``next_fire_at`` (UTC) is its first slot not yet accounted for. Firing a slot is a
compare-and-set on it: ``store.claim_trigger_fire(id, expected=next_fire_at, new=the next slot)``. Only
the caller whose claim moves it starts the execution, so two tickers on one database, a server restarted
mid-tick, and a retried EventBridge Scheduler invocation never fire one slot twice. The claim comes
before the start: a process that dies between the two loses that slot (at most once, never twice).

Misfire policy. Slots can pass unfired: the server was down, a tick was late, the Lambda was throttled.
When slots are found in the past,

- they fire at most ONCE, together, for the latest of them (the execution's ``scheduled_time``), and
  only if that slot is at most the misfire grace old (``ORCHESTRATOR_MISFIRE_GRACE_SECONDS``, default
  300 s: long enough to ride out a restart, short enough that a nightly job never runs in the morning
  after a night-long outage);
- otherwise they are skipped and logged as misfired;
- either way the schedule continues with the first slot after now: an outage never causes a burst.

Slots that come while the trigger's workflow is not active (draft, paused, archived) are consumed and
skipped, not saved up: resuming a workflow does not replay what it missed.

Locally the in-process ticker (``adapters/local/ticker.py``) calls ``tick(now)`` every few seconds. In
the cloud EventBridge Scheduler fires each slot (one schedule per trigger, FlexibleTimeWindow OFF) at
the TriggerFunction with ``{"trigger_id", "scheduled_time"}``; ``fire_scheduled`` applies the same claim
(a duplicate or retried invocation finds ``next_fire_at`` already past its slot and does nothing) and
the same grace (a delivery more than the grace late, after Scheduler's retries, is skipped). Daylight
saving time follows ``domain/schedule.py``: a wall time the clocks skip fires once, at the shifted
instant, locally (Scheduler skips it in the cloud); a repeated wall time fires once, at its first
occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from orchestrator.domain.records import ExecutionRecord, TriggerRecord, TriggerType, as_timestamp
from orchestrator.domain.schedule import DEFAULT_MISFIRE_GRACE, ScheduleError, due_fires, next_fire_after
from orchestrator.observability import logger
from orchestrator.ports.store import Store
from orchestrator.services.trigger_configs import schedule_config
from orchestrator.services.trigger_errors import InvalidTriggerConfig, TriggerInactive
from orchestrator.services.trigger_firing import TriggerFirer

#: timestamps are stored to the millisecond; slots fall on whole minutes, so this is "just before it"
_JUST_BEFORE = timedelta(milliseconds=1)


def scheduled_time_text(slot: datetime) -> str:
    """``2024-05-01T02:00:00Z``: EventBridge Scheduler's form of a slot, used for local fires as well."""
    return slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_scheduled_time(value: str | datetime) -> datetime:
    """A slot from Scheduler's ``<aws.scheduler.scheduled-time>`` text (or a datetime); ValueError if it
    is not an ISO 8601 instant with a time zone."""
    slot = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if slot.tzinfo is None:
        raise ValueError(f"scheduled_time {value!r} has no time zone")
    return as_timestamp(slot)


def schedule_fire_input(trigger_id: str, slot: datetime) -> dict[str, str]:
    return {"scheduled_time": scheduled_time_text(slot), "trigger_id": trigger_id}


@dataclass
class ScheduleTicker:
    store: Store
    firer: TriggerFirer
    misfire_grace: timedelta = field(default=DEFAULT_MISFIRE_GRACE)
    #: due triggers handled per tick; the rest wait for the next tick
    batch_size: int = 100

    def first_slot(self, trigger: TriggerRecord, now: datetime) -> datetime:
        """The trigger's first slot after ``now`` (InvalidTriggerConfig for a cron that cannot run)."""
        config = schedule_config(trigger)
        try:
            return next_fire_after(config.cron, config.timezone, now)
        except ScheduleError as error:
            raise InvalidTriggerConfig("schedule", [f"config.cron: {error}"]) from None

    def tick(self, now: datetime) -> list[ExecutionRecord]:
        """Fire the slots that are due (see the misfire policy above); returns the executions started."""
        started: list[ExecutionRecord] = []
        for trigger in self.store.due_schedule_triggers(now, limit=self.batch_size):
            try:
                execution = self._fire_due(trigger, now)
            except Exception:  # one broken trigger must not stop the others
                logger.exception("schedule trigger failed to fire", extra={"trigger_id": trigger.id})
                continue
            if execution is not None:
                started.append(execution)
        return started

    def _fire_due(self, trigger: TriggerRecord, now: datetime) -> ExecutionRecord | None:
        expected = trigger.next_fire_at
        assert expected is not None  # due_schedule_triggers only returns triggers with a fire time
        try:
            config = schedule_config(trigger)
            decision = due_fires(config.cron, config.timezone, expected - _JUST_BEFORE, now, self.misfire_grace)
        except (InvalidTriggerConfig, ScheduleError) as error:
            # a config that cannot run would be due at every tick: stop its schedule until it is saved again
            if self.store.claim_trigger_fire(trigger.id, expected, None):
                logger.error("schedule trigger stopped: its config cannot run",
                             extra={"trigger_id": trigger.id, "error": str(error)})
            return None
        if not self.store.claim_trigger_fire(trigger.id, expected, decision.next_fire_at):
            return None  # another ticker owns this slot
        if decision.latest_slot is None:
            return None  # next_fire_at was not a slot of this cron (it changed): now it is
        if not decision.fire_now:
            logger.warning("schedule slots misfired and were skipped (older than the misfire grace)",
                           extra={"trigger_id": trigger.id, "latest_slot": scheduled_time_text(decision.latest_slot),
                                  "grace_seconds": self.misfire_grace.total_seconds()})
            return None
        return self._start(trigger, decision.latest_slot)

    def fire_scheduled(self, trigger_id: str, scheduled_time: str | datetime, now: datetime) -> ExecutionRecord | None:
        """The cloud's fire of one slot (EventBridge Scheduler -> TriggerFunction); idempotent per
        (trigger, slot). None when nothing started: a duplicate, a late delivery, an inactive trigger."""
        slot = parse_scheduled_time(scheduled_time)
        trigger = self.store.get_trigger(trigger_id)
        if trigger is None or trigger.type is not TriggerType.SCHEDULE or not trigger.is_enabled:
            logger.warning("scheduled fire for a missing, disabled or non-schedule trigger",
                           extra={"trigger_id": trigger_id, "scheduled_time": scheduled_time_text(slot)})
            return None
        expected = trigger.next_fire_at
        if expected is None:
            # saved without on_trigger_saved: start accounting at this slot
            expected = self.store.update_trigger(trigger_id, next_fire_at=slot).next_fire_at or slot
        if slot < expected:
            logger.info("scheduled slot already handled", extra={"trigger_id": trigger_id,
                                                                 "scheduled_time": scheduled_time_text(slot)})
            return None
        try:
            config = schedule_config(trigger)
            following = next_fire_after(config.cron, config.timezone, slot)
        except (InvalidTriggerConfig, ScheduleError) as error:
            # failing would only make Scheduler retry for hours: the config is what must change
            logger.error("scheduled fire refused: the trigger's config cannot run",
                         extra={"trigger_id": trigger_id, "error": str(error)})
            return None
        if not self.store.claim_trigger_fire(trigger_id, expected, following):
            return None
        if now - slot > self.misfire_grace:
            logger.warning("scheduled slot delivered later than the misfire grace: skipped",
                           extra={"trigger_id": trigger_id, "scheduled_time": scheduled_time_text(slot)})
            return None
        return self._start(trigger, slot)

    def _start(self, trigger: TriggerRecord, slot: datetime) -> ExecutionRecord | None:
        try:
            return self.firer.fire(trigger, schedule_fire_input(trigger.id, slot), reason="schedule")
        except TriggerInactive as inactive:
            logger.info("schedule slot skipped: trigger not armed",
                        extra={"trigger_id": trigger.id, "scheduled_time": scheduled_time_text(slot),
                               "why": inactive.message})
            return None
