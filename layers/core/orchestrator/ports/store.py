"""The control plane's store: workflows, their versions, triggers, executions, steps, logs, stats, API keys.

Services (the API, the scheduler, the step runner, the reconciler) depend on these protocols only. Every
method that other processes may race on is atomic in the store itself (compare-and-set or claim), so
correctness never depends on there being one process. Adapters: ``adapters/sqlite`` (the local default,
also the in-memory store) and ``adapters/mongo``; ``adapters/store_factory.get_store`` picks one.

Conventions:
- ``get_*`` return None when the record does not exist; methods that change a record raise
  ``RecordNotFound``.
- Lists that can grow without bound are paged: newest first, ordered by ``(created_at, id)``, with an
  opaque ``cursor`` (``Page.next_cursor``; None on the last page).
- ``now`` parameters exist so that callers and tests can pin the clock; they default to the current time.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from orchestrator.domain.records import (
    ApiKeyRecord,
    ExecutionRecord,
    ExecutionStatus,
    LogEntry,
    LogLine,
    StepExecutionRecord,
    StepStatus,
    TriggerRecord,
    WorkflowRecord,
    WorkflowStatus,
    WorkflowVersion,
)
from orchestrator.domain.stats import StoreStats, WorkflowStats
from orchestrator.ports.blobs import Blobs
from orchestrator.ports.checkpoints import CheckpointStore
from orchestrator.ports.secrets import SealedSecretRows
from orchestrator.ports.step_results import StepResultStore
from orchestrator.ports.webhook_deliveries import WebhookDeliveries

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class RecordNotFound(LookupError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class DuplicateRecord(ValueError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} already exists")


class VersionConflict(RuntimeError):
    """The workflow changed since the caller read it (optimistic concurrency on ``current_version``)."""

    def __init__(self, workflow_id: str, expected: int, actual: int) -> None:
        self.workflow_id = workflow_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"workflow {workflow_id!r} is at version {actual}, not {expected}")


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


class WorkflowStore(Protocol):
    def create_workflow(self, workflow: WorkflowRecord, definition: dict[str, Any]) -> WorkflowRecord:
        """Save a new workflow and its version 1 together. Raises DuplicateRecord if the id is taken."""

    def get_workflow(self, workflow_id: str, *, include_deleted: bool = False,
                     with_summary: bool = True) -> WorkflowRecord | None:
        """``with_summary=False`` skips counting its executions (``execution_count``, ``last_executed`` and
        ``success_rate`` keep their defaults): for callers that need only its owner, status and version."""

    def list_workflows(
        self,
        *,
        owner_id: str | None = None,
        status: WorkflowStatus | str | None = None,
        tags: Collection[str] = (),
        include_deleted: bool = False,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[WorkflowRecord]:
        """Workflows matching every filter given; ``tags``: the workflow has all of them."""

    def update_workflow(
        self,
        workflow_id: str,
        *,
        definition: dict[str, Any] | None = None,
        expected_version: int | None = None,
        **changes: Any,
    ) -> WorkflowRecord:
        """Change name / description / tags / is_template; with a ``definition``, also add the next version
        and point ``current_version`` at it, in one atomic step. ``expected_version`` makes the update
        conditional (VersionConflict otherwise)."""

    def set_workflow_status(self, workflow_id: str, status: WorkflowStatus | str) -> WorkflowRecord: ...

    def delete_workflow(self, workflow_id: str) -> bool:
        """Soft delete (versions and executions stay); disables the workflow's triggers. False if absent."""

    def get_workflow_version(self, workflow_id: str, version: int) -> WorkflowVersion | None: ...

    def list_workflow_versions(self, workflow_id: str) -> list[WorkflowVersion]:
        """Every version, oldest first."""


class TriggerStore(Protocol):
    def create_trigger(self, trigger: TriggerRecord) -> TriggerRecord:
        """RecordNotFound if the workflow does not exist (or is deleted)."""

    def get_trigger(self, trigger_id: str) -> TriggerRecord | None: ...

    def list_triggers(self, workflow_id: str) -> list[TriggerRecord]:
        """The workflow's triggers, oldest first."""

    def update_trigger(self, trigger_id: str, **changes: Any) -> TriggerRecord:
        """Change name / config / is_enabled / next_fire_at (None clears it)."""

    def delete_trigger(self, trigger_id: str) -> bool: ...

    def due_schedule_triggers(self, now: datetime | None = None, limit: int = 100) -> list[TriggerRecord]:
        """Enabled schedule triggers with ``next_fire_at <= now``, earliest first."""

    def claim_trigger_fire(
        self, trigger_id: str, expected_next_fire_at: datetime, new_next_fire_at: datetime | None
    ) -> bool:
        """Move ``next_fire_at`` from the expected value to the new one if nobody did first. True means
        this caller owns this fire time and must start the execution; False means another process did."""

    def record_trigger_fired(self, trigger_id: str, at: datetime | None = None) -> TriggerRecord:
        """Count one fire and set ``last_triggered``."""


class ExecutionStore(Protocol):
    def create_execution(self, execution: ExecutionRecord) -> ExecutionRecord:
        """Save an execution (normally ``queued``: the outbox). RecordNotFound if its workflow is absent."""

    def get_execution(self, execution_id: str) -> ExecutionRecord | None: ...

    def list_executions(
        self,
        *,
        workflow_id: str | None = None,
        status: ExecutionStatus | str | None = None,
        owner_id: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ExecutionRecord]: ...

    def transition(
        self,
        execution_id: str,
        expected_from: Collection[ExecutionStatus | str] | ExecutionStatus | str,
        to: ExecutionStatus | str,
        **fields: Any,
    ) -> ExecutionRecord:
        """Atomically move the execution to ``to`` if its status is one of ``expected_from``, setting
        ``fields`` (started_at, ended_at, duration, output, error, cause, claimed_by...) with it.

        Raises InvalidTransition(current, to) with the status the store holds when the execution is not
        in ``expected_from``, or when the lifecycle does not allow ``expected_from -> to`` at all."""

    def claim_next_queued(
        self, worker_id: str, lease_seconds: float, now: datetime | None = None
    ) -> ExecutionRecord | None:
        """Take the next queued execution whose lease is free or expired (highest priority, then oldest),
        leasing it to ``worker_id``. No two callers get the same execution while a lease holds. The status
        stays ``queued`` until the worker transitions it to ``running``."""

    def queued_older_than(self, seconds: float, now: datetime | None = None) -> list[ExecutionRecord]:
        """Executions still queued ``seconds`` after they were enqueued: the reconciler's stuck outbox.
        Oldest first."""

    def running(self) -> list[ExecutionRecord]:
        """Executions in ``running``: what a restarted engine must resume or fail."""

    def count_running(self, workflow_id: str | None = None, *, owner_id: str | None = None) -> int:
        """How many executions are ``running`` (of one workflow, of one owner, if given): the concurrency
        limits."""

    def next_queued(self, limit: int, *, workflow_id: str | None = None,
                    owner_id: str | None = None) -> list[ExecutionRecord]:
        """Queued executions (of one workflow, of one owner, if given) in the order they should start:
        highest priority first, then oldest. At most ``limit``."""


class StepExecutionStore(Protocol):
    def upsert_step_execution(self, step: StepExecutionRecord) -> StepExecutionRecord:
        """Insert or replace the record of ``(execution_id, step_id)``. An existing record keeps its id.
        RecordNotFound if the execution does not exist."""

    def get_step_execution(self, step_execution_id: str) -> StepExecutionRecord | None: ...

    def list_step_executions(self, execution_id: str, *, statuses: Collection[StepStatus] | None = None
                             ) -> list[StepExecutionRecord]:
        """Ordered by ``started_at`` (not started first), then step id; only those in ``statuses`` if given
        (an ended execution's few open steps, without reading its thousands of closed ones)."""


class LogStore(Protocol):
    def append_logs(self, execution_id: str, lines: Sequence[LogLine]) -> list[LogEntry]:
        """Append lines in order, numbering them after the execution's previous lines.
        RecordNotFound if the execution does not exist."""

    def list_logs(
        self, execution_id: str, *, step_id: str | None = None, after_seq: int = 0, limit: int = 1000
    ) -> list[LogEntry]:
        """Lines with ``seq > after_seq`` in seq order (``after_seq`` lets a live view tail the log)."""


class StatsStore(Protocol):
    def stats(self) -> StoreStats: ...

    def workflow_stats(self, workflow_id: str) -> WorkflowStats:
        """RecordNotFound if the workflow does not exist."""


class ApiKeyStore(Protocol):
    def create_api_key(self, key: ApiKeyRecord) -> ApiKeyRecord:
        """DuplicateRecord if the id or the key hash is taken."""

    def find_api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The unrevoked key with this hash, or None: a revoked key authenticates nothing."""

    def list_api_keys(self, owner_id: str) -> list[ApiKeyRecord]:
        """The owner's keys, revoked ones included, oldest first."""

    def revoke_api_key(self, key_id: str) -> bool: ...


class Store(
    WorkflowStore,
    TriggerStore,
    ExecutionStore,
    StepExecutionStore,
    LogStore,
    StatsStore,
    ApiKeyStore,
    Protocol,
):
    """Everything above, plus the data-plane ports kept in the same database."""

    @property
    def checkpoints(self) -> CheckpointStore: ...

    @property
    def step_results(self) -> StepResultStore: ...

    @property
    def blobs(self) -> Blobs: ...

    @property
    def webhook_deliveries(self) -> WebhookDeliveries:
        """Signed webhook requests already accepted, until their signature's window closes."""

    @property
    def secrets(self) -> SealedSecretRows:
        """Owners' secrets, sealed (encrypted) before they get here."""

    def close(self) -> None: ...
