"""Which triggers may fire: the enabled triggers of ACTIVE workflows ("armed" triggers).

A paused, draft or archived workflow's triggers stay as they are but start nothing; a deleted workflow's
triggers are disabled by the store. The store finds triggers per workflow only, so looking triggers up
by type walks the active workflows (one page of workflows, then one query per workflow). That is cheap
on the local SQLite store; a store query by trigger type would save the walk in the cloud.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from orchestrator.domain.records import TriggerRecord, TriggerType, WorkflowRecord, WorkflowStatus
from orchestrator.ports.store import MAX_PAGE_SIZE, Store


@dataclass(frozen=True)
class ArmedTrigger:
    trigger: TriggerRecord
    workflow: WorkflowRecord


class TriggerRegistry:
    def __init__(self, store: Store) -> None:
        self.store = store

    def armed(self, trigger_type: TriggerType, *, owner_id: str | None = None) -> Iterator[ArmedTrigger]:
        """Enabled triggers of this type on active workflows (of ``owner_id`` only, when given)."""
        for workflow in self._workflows(status=WorkflowStatus.ACTIVE, owner_id=owner_id):
            for trigger in self.store.list_triggers(workflow.id):
                if trigger.type is trigger_type and trigger.is_enabled:
                    yield ArmedTrigger(trigger, workflow)

    def enabled(self, trigger_type: TriggerType) -> Iterator[TriggerRecord]:
        """Enabled triggers of this type on every workflow that is not deleted, whatever its status:
        what a new trigger must not clash with (a paused workflow gets its webhook path back on resume)."""
        for workflow in self._workflows(status=None, owner_id=None):
            for trigger in self.store.list_triggers(workflow.id):
                if trigger.type is trigger_type and trigger.is_enabled:
                    yield trigger

    def active_workflow(self, workflow_id: str) -> WorkflowRecord | None:
        workflow = self.store.get_workflow(workflow_id, with_summary=False)
        return workflow if workflow is not None and workflow.status is WorkflowStatus.ACTIVE else None

    def variables(self, workflow: WorkflowRecord) -> dict[str, Any]:
        """The workflow's ``variables`` as of its current version."""
        version = self.store.get_workflow_version(workflow.id, workflow.current_version)
        variables = version.definition.get("variables") if version is not None else None
        return dict(variables) if isinstance(variables, dict) else {}

    def _workflows(self, *, status: WorkflowStatus | None, owner_id: str | None) -> Iterator[WorkflowRecord]:
        cursor: str | None = None
        while True:
            page = self.store.list_workflows(status=status, owner_id=owner_id, limit=MAX_PAGE_SIZE, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
