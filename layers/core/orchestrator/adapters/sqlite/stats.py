"""Counts and durations for /health and the statistics API, computed by SQLite."""

from __future__ import annotations

from orchestrator.adapters.sqlite.database import Database
from orchestrator.domain.stats import StoreStats, WorkflowStats, nearest_rank_offset
from orchestrator.ports.store import RecordNotFound


class SqliteStats:
    _db: Database

    def stats(self) -> StoreStats:
        with self._db.read() as connection:
            executions = connection.execute("SELECT status, count(*) FROM executions GROUP BY status")
            executions_by_status = {status: count for status, count in executions}
            workflows = connection.execute(
                "SELECT status, count(*) FROM workflows WHERE deleted_at IS NULL GROUP BY status"
            )
            workflows_by_status = {status: count for status, count in workflows}
        return StoreStats(executions_by_status=executions_by_status, workflows_by_status=workflows_by_status)

    def workflow_stats(self, workflow_id: str) -> WorkflowStats:
        with self._db.read() as connection:
            if connection.execute("SELECT 1 FROM workflows WHERE id = ?", (workflow_id,)).fetchone() is None:
                raise RecordNotFound("workflow", workflow_id)
            by_status = connection.execute(
                "SELECT status, count(*) FROM executions WHERE workflow_id = ? GROUP BY status",
                (workflow_id,),
            )
            executions_by_status = {status: count for status, count in by_status}
            timed, average = connection.execute(
                "SELECT count(*), avg(duration) FROM executions WHERE workflow_id = ? AND duration IS NOT NULL",
                (workflow_id,),
            ).fetchone()
            p95 = None
            offset = nearest_rank_offset(timed, 95)
            if offset is not None:
                (p95,) = connection.execute(
                    """SELECT duration FROM executions WHERE workflow_id = ? AND duration IS NOT NULL
                       ORDER BY duration LIMIT 1 OFFSET ?""",
                    (workflow_id, offset),
                ).fetchone()
            failures = connection.execute(
                """SELECT step.step_id, count(*) FROM step_executions AS step
                   JOIN executions AS execution ON execution.id = step.execution_id
                   WHERE execution.workflow_id = ? AND step.status = 'failed'
                   GROUP BY step.step_id""",
                (workflow_id,),
            )
            failures_by_step = {step_id: count for step_id, count in failures}
        return WorkflowStats(
            workflow_id=workflow_id,
            executions_by_status=executions_by_status,
            average_duration=average,
            p95_duration=p95,
            failures_by_step=failures_by_step,
        )
