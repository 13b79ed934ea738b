"""Triggers in MongoDB, with the compare-and-set that makes each schedule fire time start one execution."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from orchestrator.adapters.mongo.collections import NO_MONGO_ID, Collections
from orchestrator.adapters.mongo.documents import (
    decode_document,
    decode_documents,
    decode_found,
    insert_for_live_workflow,
)
from orchestrator.adapters.store_support.codec import Layout, encode_changes, encode_record
from orchestrator.adapters.store_support.rules import TRIGGER_EDITABLE_FIELDS, check_fire_time_advances
from orchestrator.domain.records import TriggerRecord, as_timestamp, utcnow


class MongoTriggers:
    _collections: Collections

    def create_trigger(self, trigger: TriggerRecord) -> TriggerRecord:
        document = encode_record(trigger, Layout.DOCUMENTS)
        insert_for_live_workflow(self._collections, self._collections.triggers, "trigger", document)
        return decode_found(TriggerRecord, self._find_trigger(trigger.id), "trigger", trigger.id)

    def _find_trigger(self, trigger_id: str) -> dict[str, Any] | None:
        return self._collections.triggers.find_one({"id": trigger_id}, NO_MONGO_ID)

    def get_trigger(self, trigger_id: str) -> TriggerRecord | None:
        return decode_document(TriggerRecord, self._find_trigger(trigger_id))

    def list_triggers(self, workflow_id: str) -> list[TriggerRecord]:
        documents = self._collections.triggers.find({"workflow_id": workflow_id}, NO_MONGO_ID).sort(
            [("created_at", 1), ("id", 1)]
        )
        return decode_documents(TriggerRecord, documents)

    def update_trigger(self, trigger_id: str, **changes: Any) -> TriggerRecord:
        values = encode_changes(TriggerRecord, changes, TRIGGER_EDITABLE_FIELDS, Layout.DOCUMENTS)
        document = self._collections.triggers.find_one_and_update(
            {"id": trigger_id},
            {"$set": {**values, "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        return decode_found(TriggerRecord, document, "trigger", trigger_id)

    def delete_trigger(self, trigger_id: str) -> bool:
        return bool(self._collections.triggers.delete_one({"id": trigger_id}).deleted_count)

    def due_schedule_triggers(self, now: datetime | None = None, limit: int = 100) -> list[TriggerRecord]:
        documents = (
            self._collections.triggers.find(
                {
                    "type": "schedule",
                    "is_enabled": True,
                    "next_fire_at": {"$ne": None, "$lte": now or utcnow()},
                },
                NO_MONGO_ID,
            )
            .sort([("next_fire_at", 1), ("id", 1)])
            .limit(limit)
        )
        return decode_documents(TriggerRecord, documents)

    def claim_trigger_fire(
        self, trigger_id: str, expected_next_fire_at: datetime, new_next_fire_at: datetime | None
    ) -> bool:
        check_fire_time_advances(expected_next_fire_at, new_next_fire_at)
        claimed = self._collections.triggers.update_one(
            {"id": trigger_id, "is_enabled": True, "next_fire_at": as_timestamp(expected_next_fire_at)},
            {
                "$set": {
                    "next_fire_at": None if new_next_fire_at is None else as_timestamp(new_next_fire_at),
                    "updated_at": utcnow(),
                }
            },
        )
        return claimed.matched_count == 1

    def record_trigger_fired(self, trigger_id: str, at: datetime | None = None) -> TriggerRecord:
        document = self._collections.triggers.find_one_and_update(
            {"id": trigger_id},
            {"$inc": {"trigger_count": 1}, "$set": {"last_triggered": as_timestamp(at) if at else utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        return decode_found(TriggerRecord, document, "trigger", trigger_id)
