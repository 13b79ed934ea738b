"""Creating, changing and removing trigger records, the trigger service checking and arming each one.

What a trigger's config must be and how it is armed (its next fire time, an EventBridge schedule or rule)
is ``services.triggers.TriggerService``'s business; this module keeps the records: it asks the service to
check a trigger before it is saved (``check_trigger``), to arm it after (``on_trigger_saved``), to disarm
it after a delete (``on_trigger_deleted``), and to re-arm a deleted workflow's triggers, which the store
disabled (``sync_workflow_triggers``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from orchestrator.domain.problems import Problem, WorkflowValidationError
from orchestrator.domain.records import TriggerRecord, TriggerType, WorkflowRecord
from orchestrator.ports.store import Store
from orchestrator.services.trigger_errors import InvalidTriggerConfig


class TriggerArming(Protocol):
    """What this module needs of ``services.triggers.TriggerService``."""

    def check_trigger(self, trigger: TriggerRecord) -> None: ...

    def on_trigger_saved(self, trigger: TriggerRecord) -> TriggerRecord: ...

    def on_trigger_deleted(self, trigger: TriggerRecord) -> None: ...

    def sync_workflow_triggers(self, workflow_id: str) -> None: ...


def split_problem(text: str) -> Problem:
    """The trigger service's ``"config.cron: invalid cron ..."`` as a located Problem."""
    location, separator, message = text.partition(": ")
    if separator and location and " " not in location:
        return Problem(location, message)
    return Problem("", text)


class TriggerCatalog:
    def __init__(self, store: Store, arming: Callable[[], TriggerArming]) -> None:
        """``arming`` gives the trigger service when first needed (building it may start AWS clients)."""
        self._store = store
        self._arming = arming

    def create(
        self,
        workflow: WorkflowRecord,
        *,
        trigger_type: TriggerType | str,
        config: Mapping[str, Any],
        name: str | None = None,
        is_enabled: bool = True,
    ) -> TriggerRecord:
        """InvalidTriggerConfig lists every reason the trigger could not work; nothing is saved then."""
        record = _new_record(workflow, trigger_type, config, name, is_enabled)
        self._arming().check_trigger(record)
        return self._arming().on_trigger_saved(self._store.create_trigger(record))

    def update(
        self,
        trigger: TriggerRecord,
        *,
        name: str | None = None,
        config_patch: Mapping[str, Any] | None = None,
        is_enabled: bool | None = None,
    ) -> TriggerRecord:
        """Changes what is given. ``config_patch`` is a JSON merge patch (RFC 7396) over the stored config:
        seed 002's ``{"config": {"cron": "0 3 * * *"}}`` changes the cron and keeps the time zone;
        ``null`` removes a key."""
        changes: dict[str, Any] = {
            "name": trigger.name if name is None else name,
            "config": merge_patch(trigger.config, config_patch) if config_patch is not None else trigger.config,
            "is_enabled": trigger.is_enabled if is_enabled is None else is_enabled,
        }
        self._arming().check_trigger(trigger.model_copy(update=changes))
        return self._arming().on_trigger_saved(self._store.update_trigger(trigger.id, **changes))

    def delete(self, trigger: TriggerRecord) -> bool:
        deleted = self._store.delete_trigger(trigger.id)
        if deleted:
            self._arming().on_trigger_deleted(trigger)
        return deleted

    def workflow_deleted(self, workflow_id: str) -> None:
        self._arming().sync_workflow_triggers(workflow_id)

    # -- the triggers a workflow file declares ---------------------------------------------------------------

    def checked_declared(
        self, workflow: WorkflowRecord, declared: list[Mapping[str, Any]], source: str
    ) -> list[TriggerRecord]:
        """Records for the declared triggers, every one checked before the workflow is stored; the problems
        of all of them in one WorkflowValidationError, located in the definition (``triggers[1].config.cron``)."""
        records, problems = [], []
        for position, trigger in enumerate(declared):
            record = _new_record(
                workflow, trigger["type"], trigger.get("config") or {}, trigger.get("name"),
                trigger.get("is_enabled", True),
            )
            try:
                self._arming().check_trigger(record)
            except InvalidTriggerConfig as error:
                problems.extend(
                    Problem(f"triggers[{position}]" + (f".{problem.location}" if problem.location else ""), problem.message)
                    for problem in map(split_problem, error.problems)
                )
            records.append(record)
        if problems:
            raise WorkflowValidationError(problems, source)
        return records

    def save_declared(self, records: list[TriggerRecord]) -> list[TriggerRecord]:
        return [self._arming().on_trigger_saved(self._store.create_trigger(record)) for record in records]


def _new_record(
    workflow: WorkflowRecord, trigger_type: TriggerType | str, config: Mapping[str, Any], name: str | None,
    is_enabled: bool,
) -> TriggerRecord:
    return TriggerRecord(
        workflow_id=workflow.id, owner_id=workflow.owner_id, type=TriggerType(trigger_type), name=name or "",
        config=dict(config), is_enabled=is_enabled,
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
