"""Condition triggers: poll a source every ``interval``, fire when the expression turns true.

Each poll reads the source (``condition_sources.py``), evaluates the expression over
``{"source": <data read>, "variables": <the workflow's variables>}`` and fires only on the false -> true
edge: a condition that stays true fires once, and again only after it was seen false in between.

Who polls when. The trigger's ``next_fire_at`` is its next poll time. A poll is claimed with the store's
compare-and-set (``claim_trigger_fire(id, next_fire_at, now + interval)``), so one process polls each
interval however many tickers share the database, and the read-compare-write of the edge state below is
never done by two pollers at once.

Where the last value is kept. Per trigger, in the store's step-result table under the key
``("trigger-state:<trigger id>", "condition")``: ``{"value", "fingerprint", "checked_at", "error"}``.
It is store-neutral (SQLite and MongoDB alike) and stays out of the trigger's config, which users edit
and the API validates. ``fingerprint`` hashes the source and expression: after either changes, the
previous value no longer counts and the condition starts again from false. A trigger seen for the first
time also starts from false, so a condition that is already true fires on its first poll.

Failures. A source that cannot be read, or an expression that cannot be evaluated on what was read, is
logged and kept in the state's ``error``; the last value stays as it was (an outage neither fires nor
re-arms the edge). If starting the execution fails, the state is not advanced, so the next poll tries
again; a crash between the start and the state write repeats the fire on the next poll.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orchestrator.domain.expressions import ExpressionError, compile_expression
from orchestrator.domain.records import ExecutionRecord, TriggerType, format_timestamp
from orchestrator.domain.workflow import CONDITION_TRIGGER_ROOTS, ConditionTriggerConfig
from orchestrator.observability import logger
from orchestrator.ports.store import Store
from orchestrator.services.condition_sources import (
    ConditionReadError,
    ConditionSourceReader,
    parse_condition_source,
)
from orchestrator.services.trigger_configs import condition_config
from orchestrator.services.trigger_firing import TriggerFirer
from orchestrator.services.trigger_registry import ArmedTrigger, TriggerRegistry

STATE_NAMESPACE = "trigger-state:"
STATE_KEY = "condition"
#: a claim must move the poll time forward at the store's millisecond precision
_MIN_INTERVAL = timedelta(seconds=1)


def _fingerprint(source: str, expression: str) -> str:
    return hashlib.sha256(f"{source}\x1f{expression}".encode()).hexdigest()


@dataclass
class ConditionPoller:
    store: Store
    registry: TriggerRegistry
    firer: TriggerFirer
    reader: ConditionSourceReader

    def state(self, trigger_id: str) -> dict[str, Any] | None:
        """The last poll's outcome: ``{"value", "fingerprint", "checked_at", "error"}``, or None."""
        return self.store.step_results.get(STATE_NAMESPACE + trigger_id, STATE_KEY)

    def poll(self, now: datetime) -> list[ExecutionRecord]:
        """Poll every armed condition trigger whose interval has elapsed; returns the executions started."""
        started: list[ExecutionRecord] = []
        for armed in self.registry.armed(TriggerType.CONDITION):
            try:
                execution = self._poll_if_due(armed, now)
            except Exception:  # one broken trigger must not stop the others
                logger.exception("condition trigger poll failed", extra={"trigger_id": armed.trigger.id})
                continue
            if execution is not None:
                started.append(execution)
        return started

    def _poll_if_due(self, armed: ArmedTrigger, now: datetime) -> ExecutionRecord | None:
        trigger = armed.trigger
        config = condition_config(trigger)
        due = trigger.next_fire_at
        if due is None:  # saved without on_trigger_saved: due now
            due = self.store.update_trigger(trigger.id, next_fire_at=now).next_fire_at or now
        if due > now:
            return None
        interval = max(timedelta(seconds=config.interval), _MIN_INTERVAL)
        if not self.store.claim_trigger_fire(trigger.id, due, now + interval):
            return None  # another poller has this interval
        return self._poll(armed, config, now)

    def _poll(self, armed: ArmedTrigger, config: ConditionTriggerConfig, now: datetime) -> ExecutionRecord | None:
        trigger = armed.trigger
        fingerprint = _fingerprint(config.source, config.expression)
        previous = self.state(trigger.id) or {}
        was_true = bool(previous.get("value")) and previous.get("fingerprint") == fingerprint
        variables = self.registry.variables(armed.workflow)
        try:
            data = self.reader.read(parse_condition_source(config.source), variables, trigger.owner_id)
            is_true = compile_expression(config.expression, roots=CONDITION_TRIGGER_ROOTS).is_true(
                {"source": data, "variables": variables}
            )
        except (ConditionReadError, ExpressionError) as error:
            logger.warning("condition not checked", extra={"trigger_id": trigger.id, "error": str(error)})
            self._save(trigger.id, was_true, fingerprint, now, error=str(error))
            return None
        execution = None
        if is_true and not was_true:
            execution = self.firer.fire(
                trigger, {"trigger_id": trigger.id, "checked_at": format_timestamp(now), "source": data},
                reason="condition",
            )
        self._save(trigger.id, is_true, fingerprint, now, error=None)
        return execution

    def _save(self, trigger_id: str, value: bool, fingerprint: str, now: datetime, *, error: str | None) -> None:
        self.store.step_results.put(STATE_NAMESPACE + trigger_id, STATE_KEY, {
            "value": value, "fingerprint": fingerprint, "checked_at": format_timestamp(now), "error": error,
        })
