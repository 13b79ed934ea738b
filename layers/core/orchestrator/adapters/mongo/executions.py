"""Executions in MongoDB: the outbox claim and the compare-and-set lifecycle transitions."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from orchestrator.adapters.mongo.collections import NO_MONGO_ID, Collections
from orchestrator.adapters.mongo.documents import (
    decode_document,
    decode_documents,
    decode_found,
    find_page,
    insert_for_live_workflow,
)
from orchestrator.adapters.store_support.codec import Layout, encode_record
from orchestrator.adapters.store_support.filters import execution_filters
from orchestrator.adapters.store_support.paging import check_page_size, page_of
from orchestrator.adapters.store_support.rules import MAX_CAS_ATTEMPTS, expected_statuses, transition_values
from orchestrator.domain.lifecycle import InvalidTransition
from orchestrator.domain.records import ExecutionRecord, ExecutionStatus, as_timestamp, utcnow
from orchestrator.ports.store import DEFAULT_PAGE_SIZE, Page, RecordNotFound

_OLDEST_FIRST = [("created_at", 1), ("id", 1)]


class MongoExecutions:
    _collections: Collections

    def create_execution(self, execution: ExecutionRecord) -> ExecutionRecord:
        document = encode_record(execution, Layout.DOCUMENTS)
        document["log_seq"] = 0  # the last log line's number (see append_logs)
        insert_for_live_workflow(self._collections, self._collections.executions, "execution", document)
        return decode_found(ExecutionRecord, self._find_execution(execution.id), "execution", execution.id)

    def _find_execution(self, execution_id: str) -> dict[str, Any] | None:
        return self._collections.executions.find_one({"id": execution_id}, NO_MONGO_ID)

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        return decode_document(ExecutionRecord, self._find_execution(execution_id))

    def list_executions(
        self,
        *,
        workflow_id: str | None = None,
        status: ExecutionStatus | str | None = None,
        owner_id: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ExecutionRecord]:
        check_page_size(limit)
        query = execution_filters(workflow_id=workflow_id, status=status, owner_id=owner_id)
        documents = find_page(self._collections.executions, query, cursor, limit)
        return page_of(decode_documents(ExecutionRecord, documents), limit)

    def transition(
        self,
        execution_id: str,
        expected_from: Collection[ExecutionStatus | str] | ExecutionStatus | str,
        to: ExecutionStatus | str,
        **fields: Any,
    ) -> ExecutionRecord:
        allowed_from = expected_statuses(expected_from, to)
        values = transition_values(to, fields, Layout.DOCUMENTS)
        current_status: str | None = None
        for _ in range(MAX_CAS_ATTEMPTS):
            # The status filter is the compare; the update happens only if it still holds.
            document = self._collections.executions.find_one_and_update(
                {"id": execution_id, "status": {"$in": sorted(allowed_from)}},
                {"$set": values},
                return_document=ReturnDocument.AFTER,
            )
            if document is not None:
                return decode_found(ExecutionRecord, document, "execution", execution_id)
            current = self._collections.executions.find_one({"id": execution_id}, {"status": True})
            if current is None:
                raise RecordNotFound("execution", execution_id)
            current_status = current["status"]
            if current_status not in allowed_from:
                raise InvalidTransition(current_status, to)
            # The status came back to an expected one between the two reads: compare again.
        raise InvalidTransition(current_status or next(iter(allowed_from)), to)

    def claim_next_queued(
        self, worker_id: str, lease_seconds: float, now: datetime | None = None
    ) -> ExecutionRecord | None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        now = as_timestamp(now) if now else utcnow()
        document = self._collections.executions.find_one_and_update(
            {"status": "queued", "$or": [{"claim_expires_at": None}, {"claim_expires_at": {"$lte": now}}]},
            {"$set": {"claimed_by": worker_id, "claim_expires_at": now + timedelta(seconds=lease_seconds)}},
            sort=[("priority", -1), *_OLDEST_FIRST],
            return_document=ReturnDocument.AFTER,
        )
        return decode_document(ExecutionRecord, document)

    def queued_older_than(self, seconds: float, now: datetime | None = None) -> list[ExecutionRecord]:
        cutoff = (now or utcnow()) - timedelta(seconds=seconds)
        documents = self._collections.executions.find(
            {"status": "queued", "enqueued_at": {"$lte": cutoff}}, NO_MONGO_ID
        ).sort([("enqueued_at", 1), ("id", 1)])
        return decode_documents(ExecutionRecord, documents)

    def running(self) -> list[ExecutionRecord]:
        documents = self._collections.executions.find({"status": "running"}, NO_MONGO_ID).sort(_OLDEST_FIRST)
        return decode_documents(ExecutionRecord, documents)

    def next_queued(self, limit: int, *, workflow_id: str | None = None,
                    owner_id: str | None = None) -> list[ExecutionRecord]:
        query = {"status": "queued"} | _of(workflow_id, owner_id)
        documents = self._collections.executions.find(query, NO_MONGO_ID).sort(
            [("priority", -1), ("created_at", 1), ("id", 1)]
        ).limit(limit)
        return decode_documents(ExecutionRecord, documents)

    def count_running(self, workflow_id: str | None = None, *, owner_id: str | None = None) -> int:
        query = {"status": "running"} | _of(workflow_id, owner_id)
        return self._collections.executions.count_documents(query)


def _of(workflow_id: str | None, owner_id: str | None) -> dict[str, str]:
    """The extra filter of a count or a queue read narrowed to one workflow or owner."""
    return {key: value for key, value in (("workflow_id", workflow_id), ("owner_id", owner_id)) if value is not None}
