"""The control plane's stored records: what the Store keeps about workflows, triggers and executions.

Timestamps are UTC with millisecond precision: MongoDB keeps milliseconds only, so truncating here makes a
record read back equal to the record written on every backend, and their fixed-width ISO text sorts in
time order in SQLite. Payloads (definitions, configs, inputs, outputs) must be JSON values: anything else
is rejected at the model, before a store sees it. Secrets never reach these records: the step runner
stores rendered-without-secrets data only, so there is no field for them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, PlainSerializer


def _as_utc_milliseconds(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC: every timestamp the orchestrator writes is UTC.
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.replace(microsecond=aware.microsecond // 1000 * 1000)


def format_timestamp(value: datetime) -> str:
    """Fixed-width ISO 8601 text (``2024-05-01T12:00:00.000+00:00``): sorts like the time it stands for."""
    return _as_utc_milliseconds(value).isoformat(timespec="milliseconds")


Timestamp = Annotated[
    datetime,
    AfterValidator(_as_utc_milliseconds),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]


def utcnow() -> datetime:
    return _as_utc_milliseconds(datetime.now(UTC))


def as_timestamp(value: datetime) -> datetime:
    """The stored form of a datetime given as an argument (a filter or a compare-and-set value)."""
    return _as_utc_milliseconds(value)


def new_id() -> str:
    return uuid.uuid4().hex


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkflowStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class TriggerType(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    EVENT = "event"
    WEBHOOK = "webhook"
    CONDITION = "condition"


class ExecutionStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    RETRYING = "retrying"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class WorkflowRecord(Record):
    """A workflow. Its definition lives in immutable ``WorkflowVersion``s; ``current_version`` points at one.

    ``execution_count``, ``last_executed`` and ``success_rate`` are derived from the executions each time
    the store reads the record (so they can never drift); values given on write are ignored, as is
    ``current_version``, which the store assigns.
    """

    id: str = Field(default_factory=new_id)
    name: str = Field(min_length=1)
    description: str = ""
    status: WorkflowStatus = WorkflowStatus.DRAFT
    owner_id: str
    tags: list[str] = Field(default_factory=list)
    is_template: bool = False
    current_version: int = 0
    execution_count: int = 0
    last_executed: Timestamp | None = None
    #: completed / (completed + failed + timed_out); None until one of those exists
    success_rate: float | None = None
    created_at: Timestamp = Field(default_factory=utcnow)
    updated_at: Timestamp = Field(default_factory=utcnow)
    #: set by a soft delete; deleted workflows are hidden from lists and gets unless asked for
    deleted_at: Timestamp | None = None


class WorkflowVersion(Record):
    """One definition of a workflow as it was saved; never changed afterwards."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workflow_id: str
    version: int = Field(ge=1)
    definition: dict[str, JsonValue]
    created_at: Timestamp = Field(default_factory=utcnow)


class TriggerRecord(Record):
    """What starts a workflow. Schedule triggers carry ``next_fire_at``, which the scheduler advances with
    the store's compare-and-set so that one fire time starts one execution, whatever the process count."""

    id: str = Field(default_factory=new_id)
    workflow_id: str
    owner_id: str
    type: TriggerType
    name: str = ""
    config: dict[str, JsonValue] = Field(default_factory=dict)
    is_enabled: bool = True
    trigger_count: int = 0
    last_triggered: Timestamp | None = None
    next_fire_at: Timestamp | None = None
    created_at: Timestamp = Field(default_factory=utcnow)
    updated_at: Timestamp = Field(default_factory=utcnow)


class ExecutionRecord(Record):
    """One run of one workflow version. Saved as ``queued`` (the outbox), then claimed and run.

    ``priority``: higher runs first. ``claimed_by`` / ``claim_expires_at`` are the lease of whoever took it
    from the outbox; an expired lease makes a still-queued execution claimable again.
    ``duration`` is in seconds.
    """

    id: str = Field(default_factory=new_id)
    workflow_id: str
    workflow_version: int = Field(ge=1)
    owner_id: str
    status: ExecutionStatus = ExecutionStatus.QUEUED
    input: JsonValue = Field(default_factory=dict)
    output: JsonValue = None
    error: str | None = None
    cause: str | None = None
    priority: int = 0
    trigger_id: str | None = None
    retry_of: str | None = None
    created_at: Timestamp = Field(default_factory=utcnow)
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    duration: float | None = Field(default=None, ge=0)
    enqueued_at: Timestamp = Field(default_factory=utcnow)
    claimed_by: str | None = None
    claim_expires_at: Timestamp | None = None


class StepExecutionRecord(Record):
    """The latest attempt of one step of one execution (one record per ``(execution_id, step_id)``).

    ``output_ref`` is a blob reference when the output was too large to keep inline. ``log_count`` is
    derived from the log entries when read.
    """

    id: str = Field(default_factory=new_id)
    execution_id: str
    step_id: str
    status: StepStatus = StepStatus.PENDING
    attempt: int = Field(default=1, ge=1)
    input: JsonValue = Field(default_factory=dict)
    output: JsonValue = None
    output_ref: str | None = None
    error: str | None = None
    cause: str | None = None
    started_at: Timestamp | None = None
    ended_at: Timestamp | None = None
    log_count: int = 0


class LogLine(Record):
    """A log line as a writer hands it over; the store gives it its place (``seq``) in the execution."""

    step_id: str | None = None
    level: LogLevel = LogLevel.INFO
    message: str
    ts: Timestamp = Field(default_factory=utcnow)


class LogEntry(LogLine):
    execution_id: str
    #: 1, 2, 3... within the execution, in append order
    seq: int = Field(ge=1)


class ApiKeyRecord(Record):
    """An API key as stored: only its hash and a short prefix to recognise it by, never the key."""

    id: str = Field(default_factory=new_id)
    owner_id: str
    key_hash: str = Field(min_length=1)
    prefix: str
    is_admin: bool = False
    created_at: Timestamp = Field(default_factory=utcnow)
    revoked: bool = False


__all__ = [
    "ApiKeyRecord",
    "ExecutionRecord",
    "ExecutionStatus",
    "LogEntry",
    "LogLevel",
    "LogLine",
    "StepExecutionRecord",
    "StepStatus",
    "Timestamp",
    "TriggerRecord",
    "TriggerType",
    "WorkflowRecord",
    "WorkflowStatus",
    "WorkflowVersion",
    "as_timestamp",
    "format_timestamp",
    "new_id",
    "utcnow",
]
