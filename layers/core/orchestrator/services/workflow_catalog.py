"""The workflow use cases behind the API: create, change, activate / pause / resume, templates, diagnostics.

Definitions are checked whole by the workflow loader before anything is stored, so a stored version always
runs. Seed 002's create request carries the workflow's name beside its definition rather than in it;
the definition gets that name (and the request's description) when it has none of its own, so both the
seed's shape and a workflow file pasted whole are accepted.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.domain.records import (
    ExecutionRecord,
    TriggerRecord,
    WorkflowRecord,
    WorkflowStatus,
)
from orchestrator.domain.workflow import WorkflowDefinition
from orchestrator.ports.store import RecordNotFound, Store
from orchestrator.services.trigger_catalog import TriggerCatalog
from orchestrator.services.workflow_loader import definition_from_dict

#: the ``source`` of a definition's WorkflowValidationError: problems are located in the ``definition``
DEFINITION_SOURCE = "definition"

#: action -> (statuses it may start from, status it leads to)
_LIFECYCLE: Mapping[str, tuple[frozenset[WorkflowStatus], WorkflowStatus]] = {
    "activate": (frozenset({WorkflowStatus.DRAFT, WorkflowStatus.PAUSED}), WorkflowStatus.ACTIVE),
    "pause": (frozenset({WorkflowStatus.ACTIVE}), WorkflowStatus.PAUSED),
    "resume": (frozenset({WorkflowStatus.PAUSED}), WorkflowStatus.ACTIVE),
}


class WorkflowStateConflict(Exception):
    """The workflow's status does not allow the action (pause a draft, resume an active workflow)."""

    def __init__(self, workflow_id: str, current: WorkflowStatus, action: str) -> None:
        self.workflow_id = workflow_id
        self.current = current
        self.action = action
        super().__init__(f"workflow is {current.value}; it cannot {action}")


@dataclass(frozen=True)
class WorkflowDiagnostics:
    """Seed 002's ``GET /workflows/{id}/status``: what the workflow is doing and what can start it."""

    workflow: WorkflowRecord
    executions_by_status: dict[str, int]
    last_execution: ExecutionRecord | None
    triggers: list[TriggerRecord]


class WorkflowCatalog:
    def __init__(self, store: Store, triggers: TriggerCatalog) -> None:
        self._store = store
        self._triggers = triggers

    def checked_definition(
        self, raw: Mapping[str, Any], *, name: str | None = None, description: str | None = None
    ) -> tuple[dict[str, Any], WorkflowDefinition]:
        """The definition to store (as given, completed with name / description) and its checked model.
        WorkflowValidationError lists every problem, located under ``definition``."""
        stored = dict(raw)
        if name and "name" not in stored:
            stored["name"] = name
        if description and "description" not in stored:
            stored["description"] = description
        return stored, definition_from_dict(stored, source_name=DEFINITION_SOURCE)

    def current_definition(self, workflow: WorkflowRecord) -> dict[str, Any]:
        version = self._store.get_workflow_version(workflow.id, workflow.current_version)
        if version is None:  # a store that lost a version it promised: not the caller's mistake
            raise RecordNotFound("workflow version", f"{workflow.id}@{workflow.current_version}")
        return dict(version.definition)

    def create(
        self,
        *,
        owner_id: str,
        definition: Mapping[str, Any],
        name: str | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        is_template: bool = False,
    ) -> WorkflowRecord:
        stored, model = self.checked_definition(definition, name=name, description=description)
        workflow = WorkflowRecord(
            name=name or model.name,
            description=model.description if description is None else description,
            owner_id=owner_id,
            tags=list(model.tags if tags is None else tags),
            is_template=is_template,
        )
        # a template's triggers would start the template itself: they wait for its instances
        declared = [] if is_template else list(stored.get("triggers") or [])
        triggers = self._triggers.checked_declared(workflow, declared, DEFINITION_SOURCE)
        created = self._store.create_workflow(workflow, stored)
        self._triggers.save_declared(triggers)
        return created

    def update(
        self,
        workflow: WorkflowRecord,
        *,
        definition: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
        **changes: Any,
    ) -> WorkflowRecord:
        """Changes name / description / tags / is_template; a definition becomes the next immutable version.
        The workflow's triggers are managed through the trigger API and stay as they are."""
        stored = None
        if definition is not None:
            stored, _ = self.checked_definition(
                definition, name=changes.get("name") or workflow.name, description=changes.get("description")
            )
        return self._store.update_workflow(
            workflow.id, definition=stored, expected_version=expected_version, **changes
        )

    def change_status(self, workflow: WorkflowRecord, action: str) -> WorkflowRecord:
        allowed_from, target = _LIFECYCLE[action]
        if workflow.status not in allowed_from:
            raise WorkflowStateConflict(workflow.id, workflow.status, action)
        return self._store.set_workflow_status(workflow.id, target)

    def delete(self, workflow: WorkflowRecord) -> bool:
        deleted = self._store.delete_workflow(workflow.id)
        if deleted:
            self._triggers.workflow_deleted(workflow.id)
        return deleted

    def instantiate(
        self,
        template: WorkflowRecord,
        *,
        owner_id: str,
        name: str | None = None,
        description: str | None = None,
        variables: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> WorkflowRecord:
        """A new draft workflow from the template's current definition, its variables overridden."""
        definition = copy.deepcopy(self.current_definition(template))
        if variables:
            definition["variables"] = {**(definition.get("variables") or {}), **variables}
        if name:
            definition["name"] = name
        if description is not None:
            definition["description"] = description
        return self.create(
            owner_id=owner_id,
            definition=definition,
            name=name or template.name,
            description=description if description is not None else template.description,
            tags=list(template.tags) if tags is None else tags,
        )

    def diagnostics(self, workflow: WorkflowRecord) -> WorkflowDiagnostics:
        latest = self._store.list_executions(workflow_id=workflow.id, limit=1).items
        return WorkflowDiagnostics(
            workflow=workflow,
            executions_by_status=self._store.workflow_stats(workflow.id).executions_by_status,
            last_execution=latest[0] if latest else None,
            triggers=self._store.list_triggers(workflow.id),
        )
