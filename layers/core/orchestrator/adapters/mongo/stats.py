"""Counts and durations for /health and the statistics API, computed by MongoDB aggregations."""

from __future__ import annotations

from typing import Any

from pymongo.collection import Collection

from orchestrator.adapters.mongo.collections import Collections
from orchestrator.domain.stats import StoreStats, WorkflowStats, nearest_rank_offset
from orchestrator.ports.store import RecordNotFound


def _counts_by(collection: Collection, match: dict[str, Any], field: str) -> dict[str, int]:
    groups = collection.aggregate([{"$match": match}, {"$group": {"_id": f"${field}", "count": {"$sum": 1}}}])
    return {group["_id"]: group["count"] for group in groups}


class MongoStats:
    _collections: Collections

    def stats(self) -> StoreStats:
        return StoreStats(
            executions_by_status=_counts_by(self._collections.executions, {}, "status"),
            workflows_by_status=_counts_by(self._collections.workflows, {"deleted_at": None}, "status"),
        )

    def workflow_stats(self, workflow_id: str) -> WorkflowStats:
        if self._collections.workflows.find_one({"id": workflow_id}, {"_id": 1}) is None:
            raise RecordNotFound("workflow", workflow_id)
        timed = {"workflow_id": workflow_id, "duration": {"$ne": None}}
        averages = list(
            self._collections.executions.aggregate(
                [
                    {"$match": timed},
                    {"$group": {"_id": None, "count": {"$sum": 1}, "average": {"$avg": "$duration"}}},
                ]
            )
        )
        count, average = (averages[0]["count"], averages[0]["average"]) if averages else (0, None)
        p95 = None
        offset = nearest_rank_offset(count, 95)
        if offset is not None:
            ranked = (
                self._collections.executions.find(timed, {"duration": True}).sort("duration", 1).skip(offset)
            )
            p95 = next(iter(ranked.limit(1)))["duration"]
        return WorkflowStats(
            workflow_id=workflow_id,
            executions_by_status=_counts_by(
                self._collections.executions, {"workflow_id": workflow_id}, "status"
            ),
            average_duration=average,
            p95_duration=p95,
            failures_by_step=_counts_by(
                self._collections.step_executions, {"workflow_id": workflow_id, "status": "failed"}, "step_id"
            ),
        )
