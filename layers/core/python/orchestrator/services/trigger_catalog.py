"""Creating, changing and removing triggers: their configs checked, their schedules kept in step.

A trigger's config is checked with the workflow language's own trigger models (cron, time zone, event
pattern, webhook path), so a trigger made through the API obeys the same rules as one written in a
workflow file. Schedule triggers get their ``next_fire_at`` here, which is what the local ticker looks
for; when a ``Schedules`` adapter is given (EventBridge Scheduler in the cloud) the platform's schedule is
created, replaced or deleted with the record.

Firing triggers (the ticker's claims, webhooks, events) is not this module's business.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from orchestrator.domain.event_patterns import validate_pattern
from orchestrator.domain.problems import Problem, WorkflowValidationError, format_location
from orchestrator.domain.records import TriggerRecord, TriggerType, WorkflowRecord, utcnow
from orchestrator.domain.schedule import ScheduleError, next_fire_after, to_scheduler_expression
from orchestrator.domain.validation import pydantic_problems
from orchestrator.domain.workflow import Trigger
from orchestrator.ports.schedules import Schedules
from orchestrator.ports.store import Store

_TRIGGER = TypeAdapter(Trigger)

#: the ``source`` of the WorkflowValidationError this module raises: problems are located in the trigger
TRIGGER_SOURCE = "trigger"


class TriggerCatalog:
    def __init__(
        self,
        store: Store,
        schedules: Schedules | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._schedules = schedules
        self._clock = clock

    # -- checking --------------------------------------------------------------------------------------

    def checked_config(
        self, trigger_type: str, config: Mapping[str, Any], *, name: str | None = None, is_enabled: bool = True
    ) -> dict[str, Any]:
        """The config as given, once it passes every check; WorkflowValidationError lists the problems
        located as in the request (``config.cron``, ``type``)."""
        raw = {"type": trigger_type, "name": name, "is_enabled": is_enabled, "config": dict(config)}
        problems: list[Problem] = []
        try:
            _TRIGGER.validate_python(raw)
        except ValidationError as error:
            problems.extend(Problem(format_location(location), message) for location, message in pydantic_problems(error, raw))
        if not problems:
            problems.extend(self._platform_problems(trigger_type, raw["config"]))
        if problems:
            raise WorkflowValidationError(problems, TRIGGER_SOURCE)
        return raw["config"]

    def _platform_problems(self, trigger_type: str, config: dict[str, Any]) -> list[Problem]:
        if trigger_type == TriggerType.EVENT:
            # the model checks the pattern's shape; the matcher knows every operator's rules
            return [Problem("config.pattern", problem) for problem in validate_pattern(config["pattern"])]
        if trigger_type == TriggerType.SCHEDULE and self._schedules is not None:
            try:
                to_scheduler_expression(config["cron"])
            except ScheduleError as error:
                return [Problem("config.cron", str(error))]
        return []

    # -- changing ----------------------------------------------------------------------------------------

    def create(
        self,
        workflow: WorkflowRecord,
        *,
        trigger_type: str,
        config: Mapping[str, Any],
        name: str | None = None,
        is_enabled: bool = True,
    ) -> TriggerRecord:
        checked = self.checked_config(trigger_type, config, name=name, is_enabled=is_enabled)
        record = TriggerRecord(
            workflow_id=workflow.id,
            owner_id=workflow.owner_id,
            type=TriggerType(trigger_type),
            name=name or "",
            config=checked,
            is_enabled=is_enabled,
            next_fire_at=self._next_fire_at(trigger_type, checked, is_enabled),
        )
        created = self._store.create_trigger(record)
        self._sync_schedule(created)
        return created

    def check_declared(self, declared: list[Mapping[str, Any]], source: str) -> None:
        """Checks the triggers a workflow file declares before the workflow is stored; problems are located
        in the definition (``triggers[1].config.cron``) and raised as one WorkflowValidationError."""
        problems: list[Problem] = []
        for position, trigger in enumerate(declared):
            try:
                self.checked_config(
                    str(trigger.get("type")), trigger.get("config") or {},
                    name=trigger.get("name"), is_enabled=trigger.get("is_enabled", True),
                )
            except WorkflowValidationError as error:
                problems.extend(
                    Problem(f"triggers[{position}].{problem.location}", problem.message) for problem in error.problems
                )
        if problems:
            raise WorkflowValidationError(problems, source)

    def create_declared(self, workflow: WorkflowRecord, declared: list[Mapping[str, Any]]) -> list[TriggerRecord]:
        """The triggers a workflow file declares, as records (checked first with ``check_declared``)."""
        return [
            self.create(
                workflow,
                trigger_type=str(trigger["type"]),
                config=trigger.get("config") or {},
                name=trigger.get("name"),
                is_enabled=trigger.get("is_enabled", True),
            )
            for trigger in declared
        ]

    def update(
        self,
        trigger: TriggerRecord,
        *,
        name: str | None = None,
        config_patch: Mapping[str, Any] | None = None,
        is_enabled: bool | None = None,
    ) -> TriggerRecord:
        """Change what is given. ``config_patch`` is a JSON merge patch (RFC 7396) over the stored config:
        seed 002's ``{"config": {"cron": "0 3 * * *"}}`` changes the cron and keeps the time zone;
        ``null`` removes a key."""
        config = merge_patch(trigger.config, config_patch) if config_patch is not None else dict(trigger.config)
        enabled = trigger.is_enabled if is_enabled is None else is_enabled
        new_name = trigger.name if name is None else name
        checked = self.checked_config(trigger.type, config, name=new_name, is_enabled=enabled)
        updated = self._store.update_trigger(
            trigger.id,
            name=new_name,
            config=checked,
            is_enabled=enabled,
            next_fire_at=self._next_fire_at(trigger.type, checked, enabled),
        )
        self._sync_schedule(updated)
        return updated

    def delete(self, trigger: TriggerRecord) -> bool:
        deleted = self._store.delete_trigger(trigger.id)
        if deleted and trigger.type is TriggerType.SCHEDULE and self._schedules is not None:
            self._schedules.delete_schedule(trigger.id)
        return deleted

    def workflow_deleted(self, workflow_id: str) -> None:
        """The store disabled the deleted workflow's triggers; the platform's schedules go too."""
        if self._schedules is None:
            return
        for trigger in self._store.list_triggers(workflow_id):
            if trigger.type is TriggerType.SCHEDULE:
                self._schedules.delete_schedule(trigger.id)

    # -- schedules -----------------------------------------------------------------------------------------

    def _next_fire_at(self, trigger_type: str, config: Mapping[str, Any], is_enabled: bool) -> datetime | None:
        if trigger_type != TriggerType.SCHEDULE or not is_enabled:
            return None
        return next_fire_after(config["cron"], config.get("timezone", "UTC"), self._clock())

    def _sync_schedule(self, trigger: TriggerRecord) -> None:
        if trigger.type is not TriggerType.SCHEDULE or self._schedules is None:
            return
        self._schedules.put_schedule(
            trigger.id,
            str(trigger.config["cron"]),
            str(trigger.config.get("timezone", "UTC")),
            {"trigger_id": trigger.id, "workflow_id": trigger.workflow_id},
            enabled=trigger.is_enabled,
        )


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch of one object over another."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_patch(merged[key], value)
        else:
            merged[key] = value
    return merged

