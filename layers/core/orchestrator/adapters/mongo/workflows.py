"""Workflows and their immutable versions in MongoDB.

A workflow write that adds a version touches two collections, and MongoDB makes single-document writes
atomic only (mongomock and standalone servers have no transactions). So the write is committed in ONE
document: the workflow document is updated together with a ``pending_version`` field that carries the
new version. Copying it into ``workflow_versions`` and removing the field follows, and is idempotent:
any later reader or writer that finds a pending version finishes the job, so a process killed between
the two steps leaves nothing half-done behind it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection as Sized
from typing import Any

from pymongo.errors import DuplicateKeyError

from orchestrator.adapters.mongo.collections import NO_MONGO_ID, Collections
from orchestrator.adapters.mongo.documents import decode_document, decode_documents, find_page
from orchestrator.adapters.store_support.codec import Layout, encode_changes, encode_record
from orchestrator.adapters.store_support.filters import workflow_filters
from orchestrator.adapters.store_support.paging import check_page_size, page_of
from orchestrator.adapters.store_support.records import new_workflow, next_workflow_version, require_found
from orchestrator.adapters.store_support.rules import (
    MAX_CAS_ATTEMPTS,
    WORKFLOW_EDITABLE_FIELDS,
    check_expected_version,
)
from orchestrator.adapters.store_support.summaries import with_execution_summaries
from orchestrator.domain.records import WorkflowRecord, WorkflowStatus, WorkflowVersion, utcnow
from orchestrator.ports.store import (
    DEFAULT_PAGE_SIZE,
    DuplicateRecord,
    Page,
    RecordNotFound,
    VersionConflict,
)

_NOT_DELETED = {"deleted_at": None}


class MongoWorkflows:
    _collections: Collections

    def _summarised(self, documents: list[dict[str, Any]]) -> list[WorkflowRecord]:
        workflows = decode_documents(WorkflowRecord, documents)
        if not workflows:
            return []
        groups = self._collections.executions.aggregate(
            [
                {"$match": {"workflow_id": {"$in": [workflow.id for workflow in workflows]}}},
                {
                    "$group": {
                        "_id": {"workflow_id": "$workflow_id", "status": "$status"},
                        "count": {"$sum": 1},
                        "last_created": {"$max": "$created_at"},
                    }
                },
            ]
        )
        status_counts = (
            (group["_id"]["workflow_id"], group["_id"]["status"], group["count"], group["last_created"])
            for group in groups
        )
        return with_execution_summaries(workflows, status_counts)

    def _publish_pending_version(self, workflow_id: str) -> None:
        """Second step of a versioned write (see the module docstring); safe to run any number of times."""
        document = self._collections.workflows.find_one(
            {"id": workflow_id, "pending_version": {"$exists": True}}, {"pending_version": True}
        )
        if document is None:
            return
        pending = document["pending_version"]
        key = {"workflow_id": pending["workflow_id"], "version": pending["version"]}
        rest = {name: value for name, value in pending.items() if name not in key}
        # Two finishers may race on the upsert; the unique index lets one insert and fails the other.
        with contextlib.suppress(DuplicateKeyError):
            self._collections.workflow_versions.update_one(key, {"$setOnInsert": rest}, upsert=True)
        self._collections.workflows.update_one(
            {"id": workflow_id, "pending_version.version": pending["version"]},
            {"$unset": {"pending_version": ""}},
        )

    def create_workflow(self, workflow: WorkflowRecord, definition: dict[str, Any]) -> WorkflowRecord:
        document, first_version = new_workflow(workflow, definition, Layout.DOCUMENTS)
        document["pending_version"] = first_version
        try:
            self._collections.workflows.insert_one(document)
        except DuplicateKeyError as error:
            raise DuplicateRecord("workflow", workflow.id) from error
        self._publish_pending_version(workflow.id)
        return self._require_workflow(workflow.id)

    def get_workflow(self, workflow_id: str, *, include_deleted: bool = False,
                     with_summary: bool = True) -> WorkflowRecord | None:
        query: dict[str, Any] = (
            {"id": workflow_id} if include_deleted else {"id": workflow_id, **_NOT_DELETED}
        )
        document = self._collections.workflows.find_one(query, NO_MONGO_ID)
        if document is None:
            return None
        return self._summarised([document])[0] if with_summary else decode_document(WorkflowRecord, document)

    def _require_workflow(self, workflow_id: str) -> WorkflowRecord:
        return require_found(self.get_workflow(workflow_id), "workflow", workflow_id)

    def list_workflows(
        self,
        *,
        owner_id: str | None = None,
        status: WorkflowStatus | str | None = None,
        tags: Sized[str] = (),
        include_deleted: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[WorkflowRecord]:
        check_page_size(limit)
        query: dict[str, Any] = {} if include_deleted else dict(_NOT_DELETED)
        query.update(workflow_filters(owner_id=owner_id, status=status))
        if tags:
            query["tags"] = {"$all": list(dict.fromkeys(tags))}
        documents = find_page(self._collections.workflows, query, cursor, limit)
        return page_of(self._summarised(documents), limit)

    def update_workflow(
        self,
        workflow_id: str,
        *,
        definition: dict[str, Any] | None = None,
        expected_version: int | None = None,
        **changes: Any,
    ) -> WorkflowRecord:
        values = encode_changes(WorkflowRecord, changes, WORKFLOW_EDITABLE_FIELDS, Layout.DOCUMENTS)
        current_version = 0
        for _ in range(MAX_CAS_ATTEMPTS):
            self._publish_pending_version(workflow_id)  # an earlier writer's version comes first
            current = self._collections.workflows.find_one(
                {"id": workflow_id, **_NOT_DELETED}, {"current_version": True}
            )
            if current is None:
                raise RecordNotFound("workflow", workflow_id)
            current_version = int(current["current_version"])
            check_expected_version(workflow_id, expected_version, current_version)
            now = utcnow()
            updates: dict[str, Any] = {**values, "updated_at": now}
            if definition is not None:
                version = next_workflow_version(workflow_id, current_version, definition, now)
                updates["current_version"] = version.version
                updates["pending_version"] = encode_record(version, Layout.DOCUMENTS)
            committed = self._collections.workflows.update_one(
                {
                    "id": workflow_id,
                    **_NOT_DELETED,
                    "current_version": current_version,
                    "pending_version": {"$exists": False},
                },
                {"$set": updates},
            )
            if committed.matched_count:
                self._publish_pending_version(workflow_id)
                return self._require_workflow(workflow_id)
        # Other writers kept winning; report it rather than loop for ever.
        latest = self.get_workflow(workflow_id)
        raise VersionConflict(
            workflow_id, current_version, latest.current_version if latest else current_version
        )

    def set_workflow_status(self, workflow_id: str, status: WorkflowStatus | str) -> WorkflowRecord:
        updated = self._collections.workflows.update_one(
            {"id": workflow_id, **_NOT_DELETED},
            {"$set": {"status": WorkflowStatus(status).value, "updated_at": utcnow()}},
        )
        if not updated.matched_count:
            raise RecordNotFound("workflow", workflow_id)
        return self._require_workflow(workflow_id)

    def delete_workflow(self, workflow_id: str) -> bool:
        now = utcnow()
        # Triggers first: if the process dies in between, the workflow is merely idle, never a deleted
        # workflow that its schedules keep starting.
        self._collections.triggers.update_many(
            {"workflow_id": workflow_id}, {"$set": {"is_enabled": False, "updated_at": now}}
        )
        deleted = self._collections.workflows.update_one(
            {"id": workflow_id, **_NOT_DELETED}, {"$set": {"deleted_at": now, "updated_at": now}}
        )
        return bool(deleted.matched_count)

    def get_workflow_version(self, workflow_id: str, version: int) -> WorkflowVersion | None:
        query = {"workflow_id": workflow_id, "version": version}
        document = self._collections.workflow_versions.find_one(query, NO_MONGO_ID)
        if document is None:
            self._publish_pending_version(workflow_id)
            document = self._collections.workflow_versions.find_one(query, NO_MONGO_ID)
        return decode_document(WorkflowVersion, document)

    def list_workflow_versions(self, workflow_id: str) -> list[WorkflowVersion]:
        self._publish_pending_version(workflow_id)
        documents = self._collections.workflow_versions.find({"workflow_id": workflow_id}, NO_MONGO_ID).sort(
            "version", 1
        )
        return decode_documents(WorkflowVersion, documents)
