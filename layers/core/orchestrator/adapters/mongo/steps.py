"""Step executions and execution logs in MongoDB."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, cast

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from orchestrator.adapters.mongo.collections import NO_MONGO_ID, Collections
from orchestrator.adapters.mongo.documents import decode_documents
from orchestrator.adapters.store_support.codec import Layout, encode_record
from orchestrator.adapters.store_support.records import (
    STEP_DERIVED_FIELDS,
    STEP_IDENTITY,
    numbered_log_entries,
    with_log_counts,
)
from orchestrator.domain.records import LogEntry, LogLine, StepExecutionRecord, StepStatus
from orchestrator.ports.store import DuplicateRecord, RecordNotFound


class MongoStepsAndLogs:
    _collections: Collections

    def _with_log_counts(self, documents: Sequence[dict[str, Any]]) -> list[StepExecutionRecord]:
        steps = decode_documents(StepExecutionRecord, documents)
        if not steps:
            return []
        groups = self._collections.logs.aggregate(
            [
                {
                    "$match": {
                        "execution_id": {"$in": sorted({step.execution_id for step in steps})},
                        "step_id": {"$ne": None},
                    }
                },
                {
                    "$group": {
                        "_id": {"execution_id": "$execution_id", "step_id": "$step_id"},
                        "count": {"$sum": 1},
                    }
                },
            ]
        )
        counts = {(group["_id"]["execution_id"], group["_id"]["step_id"]): group["count"] for group in groups}
        return with_log_counts(steps, counts)

    def upsert_step_execution(self, step: StepExecutionRecord) -> StepExecutionRecord:
        execution = self._collections.executions.find_one({"id": step.execution_id}, {"workflow_id": True})
        if execution is None:
            raise RecordNotFound("execution", step.execution_id)
        document = encode_record(step, Layout.DOCUMENTS, exclude=STEP_DERIVED_FIELDS)
        replaced = {name: value for name, value in document.items() if name not in STEP_IDENTITY}
        # workflow_id is copied from the execution so that failures per step are counted without a join.
        inserted_only = {"id": step.id, "workflow_id": execution["workflow_id"]}
        upsert = {"$set": replaced, "$setOnInsert": inserted_only}
        try:
            stored = self._upsert_step(step, upsert)
        except DuplicateKeyError:
            # Two first upserts of one step raced and this one lost: now it is an update. Failing again
            # means the id belongs to another step's record.
            try:
                stored = self._upsert_step(step, upsert)
            except DuplicateKeyError as error:
                raise DuplicateRecord("step execution", step.id) from error
        return self._with_log_counts([stored])[0]

    def _upsert_step(self, step: StepExecutionRecord, upsert: dict[str, Any]) -> dict[str, Any]:
        # an upsert returning the document after it always returns one
        document = self._collections.step_executions.find_one_and_update(
            {"execution_id": step.execution_id, "step_id": step.step_id},
            upsert,
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return cast("dict[str, Any]", document)

    def get_step_execution(self, step_execution_id: str) -> StepExecutionRecord | None:
        document = self._collections.step_executions.find_one({"id": step_execution_id}, NO_MONGO_ID)
        return None if document is None else self._with_log_counts([document])[0]

    def list_step_executions(self, execution_id: str, *, statuses: Collection[StepStatus] | None = None
                             ) -> list[StepExecutionRecord]:
        query: dict[str, Any] = {"execution_id": execution_id}
        if statuses is not None:
            query["status"] = {"$in": [status.value for status in statuses]}
        documents = self._collections.step_executions.find(query, NO_MONGO_ID).sort(
            [("started_at", 1), ("step_id", 1)]
        )
        return self._with_log_counts(list(documents))

    def append_logs(self, execution_id: str, lines: Sequence[LogLine]) -> list[LogEntry]:
        # Reserve the numbers first (one atomic $inc on the execution), then write the lines. A process
        # dying in between leaves a gap in the numbering, never two lines with one number.
        reserved = self._collections.executions.find_one_and_update(
            {"id": execution_id},
            {"$inc": {"log_seq": len(lines)}},
            projection={"log_seq": True},
            return_document=ReturnDocument.AFTER,
        )
        if reserved is None:
            raise RecordNotFound("execution", execution_id)
        entries = numbered_log_entries(execution_id, lines, int(reserved["log_seq"]))
        if entries:
            self._collections.logs.insert_many([encode_record(entry, Layout.DOCUMENTS) for entry in entries])
        return entries

    def list_logs(
        self, execution_id: str, *, step_id: str | None = None, after_seq: int = 0, limit: int = 1000
    ) -> list[LogEntry]:
        query: dict[str, Any] = {"execution_id": execution_id, "seq": {"$gt": after_seq}}
        if step_id is not None:
            query["step_id"] = step_id
        documents = self._collections.logs.find(query, NO_MONGO_ID).sort("seq", 1).limit(limit)
        return decode_documents(LogEntry, documents)
