"""The API's request and response bodies (seed 002's JSON shapes).

Responses are built from the stored records with ``from_record``; fields that only the engine needs
(leases, queue bookkeeping, key hashes) are not part of them.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StrictBool

from orchestrator.domain.identifiers import Identifier
from orchestrator.domain.records import (
    ApiKeyRecord,
    ExecutionRecord,
    ExecutionStatus,
    LogEntry,
    LogLevel,
    StepExecutionRecord,
    StepStatus,
    Timestamp,
    TriggerRecord,
    TriggerType,
    WorkflowRecord,
    WorkflowStatus,
    WorkflowVersion,
)
from orchestrator.domain.stats import WorkflowStats
from orchestrator.domain.workflow import webhook_path

T = TypeVar("T")

#: the largest number the stores keep (SQLite and BSON integers are 64-bit); versions never get near it
MAX_VERSION = 2**31 - 1


class Request(BaseModel):
    # a misspelt field must not be dropped silently (``priorty: 9`` would run at priority 0); booleans are
    # StrictBool: ``"is_admin": 0`` or ``"no"`` is a mistake to report, not a value to guess
    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def from_record(cls, record: BaseModel, **extra: Any) -> Self:
        values = {name: getattr(record, name) for name in cls.model_fields if hasattr(record, name)}
        return cls.model_validate({**values, **extra})


# --- errors and pages ---------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    """The one error shape of every endpoint."""

    error: ErrorDetail


class PageResponse(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; null on the last")


# --- workflows ----------------------------------------------------------------------------------------


class WorkflowCreate(Request):
    name: Identifier | None = Field(None, min_length=1, description="default: the definition's name")
    description: str | None = None
    definition: dict[str, JsonValue] = Field(description="the workflow (seed 002's JSON format)")
    tags: list[Identifier] | None = Field(None, description="default: the definition's tags")
    owner_id: Identifier | None = Field(None, min_length=1, description="admin keys only; default: the key's owner")
    is_template: StrictBool = False


class WorkflowUpdate(Request):
    name: Identifier | None = Field(None, min_length=1)
    description: str | None = None
    definition: dict[str, JsonValue] | None = Field(None, description="given: becomes the next version")
    tags: list[Identifier] | None = None
    is_template: StrictBool | None = None
    expected_version: int | None = Field(
        None, ge=0, le=MAX_VERSION, description="update only if still at this version (or send If-Match)"
    )


class WorkflowInstantiate(Request):
    name: Identifier | None = Field(None, min_length=1, description="default: the template's name")
    description: str | None = None
    variables: dict[str, JsonValue] | None = Field(None, description="override the template's variables")
    tags: list[Identifier] | None = None
    owner_id: Identifier | None = Field(None, min_length=1, description="admin keys only")


class WorkflowResponse(Response):
    id: str
    name: str
    description: str
    status: WorkflowStatus
    owner_id: str
    tags: list[str]
    is_template: bool
    current_version: int
    execution_count: int
    last_executed: Timestamp | None
    success_rate: float | None
    created_at: Timestamp
    updated_at: Timestamp


class WorkflowDetail(WorkflowResponse):
    definition: dict[str, JsonValue] = Field(description="literal webhook secrets shown as \"***\"")
    variables: dict[str, JsonValue]

    @classmethod
    def of(cls, workflow: WorkflowRecord, definition: dict[str, Any]) -> WorkflowDetail:
        return cls.from_record(workflow, definition=definition_without_literal_secrets(definition),
                               variables=definition.get("variables") or {})


class WorkflowVersionSummary(Response):
    workflow_id: str
    version: int
    created_at: Timestamp


class WorkflowVersionResponse(WorkflowVersionSummary):
    definition: dict[str, JsonValue] = Field(description="literal webhook secrets shown as \"***\"")

    @classmethod
    def of(cls, version: WorkflowVersion) -> WorkflowVersionResponse:
        return cls.from_record(version, definition=definition_without_literal_secrets(version.definition))


class ExecutionCounts(BaseModel):
    queued: int = 0
    running: int = 0
    paused: int = 0


# --- triggers -----------------------------------------------------------------------------------------


class TriggerCreate(Request):
    type: TriggerType
    name: Identifier | None = None
    config: dict[str, JsonValue] = Field(default_factory=dict)
    is_enabled: StrictBool = True


class TriggerUpdate(Request):
    name: Identifier | None = None
    config: dict[str, JsonValue] | None = Field(
        None, description="merged into the stored config (JSON merge patch: null removes a key)"
    )
    is_enabled: StrictBool | None = None


class TriggerResponse(Response):
    id: str
    workflow_id: str
    owner_id: str
    type: TriggerType
    name: str
    config: dict[str, JsonValue]
    is_enabled: bool
    trigger_count: int
    last_triggered: Timestamp | None
    next_fire_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, trigger: TriggerRecord) -> TriggerResponse:
        return cls.from_record(trigger, config=_without_literal_secrets(trigger.config))


#: what a literal secret is shown as; sent back unchanged in a definition, it means "keep the stored one"
SECRET_MASK = "***"


def _is_literal_secret(secret: Any) -> bool:
    return isinstance(secret, str) and not secret.strip().startswith("{{")


def _without_literal_secrets(config: dict[str, Any]) -> dict[str, Any]:
    # a webhook's `secret` should be a {{secrets.x}} reference; one written out literally is never shown
    if _is_literal_secret(config.get("secret")):
        return {**config, "secret": SECRET_MASK}
    return config


def definition_without_literal_secrets(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition with each trigger's literal secret masked (write-only, as under /triggers)."""
    triggers = definition.get("triggers")
    if not isinstance(triggers, list):
        return definition
    masked = [
        {**trigger, "config": _without_literal_secrets(trigger["config"])}
        if isinstance(trigger, dict) and isinstance(trigger.get("config"), dict) else trigger
        for trigger in triggers
    ]
    return {**definition, "triggers": masked}


def restore_masked_secrets(definition: dict[str, Any], current: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``definition`` (sent back after a read) with each ``"***"`` secret replaced by the stored secret of
    the current definition's trigger of the same type, path and method; the locations of masks that match
    no stored trigger (those stay, for the caller to refuse)."""
    triggers = definition.get("triggers")
    if not isinstance(triggers, list):
        return definition, []
    stored = {_trigger_identity(trigger): trigger["config"]["secret"]
              for trigger in current.get("triggers") or [] if _trigger_identity(trigger) is not None
              and _is_literal_secret(trigger["config"].get("secret"))}
    restored, unmatched = [], []
    for index, trigger in enumerate(triggers):
        config = trigger.get("config") if isinstance(trigger, dict) else None
        if isinstance(config, dict) and config.get("secret") == SECRET_MASK:
            secret = stored.get(_trigger_identity(trigger))
            if secret is None:
                unmatched.append(f"definition.triggers[{index}].config.secret")
            else:
                trigger = {**trigger, "config": {**config, "secret": secret}}
        restored.append(trigger)
    return {**definition, "triggers": restored}, unmatched


def _trigger_identity(trigger: Any) -> tuple[str, str, str] | None:
    if not isinstance(trigger, dict) or not isinstance(trigger.get("config"), dict):
        return None
    config = trigger["config"]
    path, method = config.get("path"), config.get("method", "POST")
    if not isinstance(path, str) or not isinstance(method, str):
        return None
    return str(trigger.get("type")), webhook_path(path), method.upper()


class ExecutionSummary(Response):
    id: str
    status: ExecutionStatus
    created_at: Timestamp
    ended_at: Timestamp | None


class WorkflowStatusResponse(BaseModel):
    """Seed 002's diagnostic: is it runnable, what is running, what ran last, what starts it."""

    workflow_id: str
    status: WorkflowStatus
    current_version: int
    active_executions: ExecutionCounts
    last_execution: ExecutionSummary | None
    triggers: list[TriggerResponse]


WorkflowStatistics = WorkflowStats


# --- executions ---------------------------------------------------------------------------------------


class ExecuteRequest(Request):
    input: JsonValue = Field(default_factory=dict)
    priority: int = Field(0, ge=-1000, le=1000, description="higher runs first")
    version: int | None = Field(None, ge=1, le=MAX_VERSION, description="run this version; default: the current one")


class ExecutionResponse(Response):
    id: str
    workflow_id: str
    workflow_version: int
    owner_id: str
    status: ExecutionStatus
    input: JsonValue
    output: JsonValue
    error: str | None
    cause: str | None
    priority: int
    trigger_id: str | None
    retry_of: str | None
    created_at: Timestamp
    started_at: Timestamp | None
    ended_at: Timestamp | None
    duration: float | None = Field(description="seconds")


class StepExecutionResponse(Response):
    id: str
    execution_id: str
    step_id: str
    status: StepStatus
    attempt: int
    input: JsonValue
    output: JsonValue
    output_ref: str | None = Field(description="set when the output is large: GET .../output resolves it")
    error: str | None
    cause: str | None
    started_at: Timestamp | None
    ended_at: Timestamp | None
    log_count: int


class ExecutionDetail(ExecutionResponse):
    steps: list[StepExecutionResponse]

    @classmethod
    def of(cls, execution: ExecutionRecord, steps: list[StepExecutionRecord]) -> ExecutionDetail:
        return cls.from_record(execution, steps=[StepExecutionResponse.from_record(step) for step in steps])


class StepOutput(BaseModel):
    step_execution_id: str
    step_id: str
    output: JsonValue


class LogResponse(Response):
    seq: int
    execution_id: str
    step_id: str | None
    level: LogLevel
    message: str
    ts: Timestamp

    @classmethod
    def of(cls, entry: LogEntry) -> LogResponse:
        return cls.from_record(entry)


# --- API keys -----------------------------------------------------------------------------------------


class ApiKeyCreate(Request):
    owner_id: Identifier = Field(min_length=1, max_length=200)
    is_admin: StrictBool = False


class ApiKeyResponse(Response):
    id: str
    owner_id: str
    prefix: str = Field(description="the key's first characters, to recognise it by")
    is_admin: bool
    created_at: Timestamp
    revoked: bool

    @classmethod
    def of(cls, key: ApiKeyRecord) -> ApiKeyResponse:
        return cls.from_record(key)


class ApiKeyCreated(ApiKeyResponse):
    key: str = Field(description="the key itself: shown this once, stored only as a hash")


# --- health -------------------------------------------------------------------------------------------

CheckResult = Literal["ok", "error"]


class HealthChecks(BaseModel):
    database: CheckResult
    scheduler: CheckResult
    executor: CheckResult


class HealthStats(BaseModel):
    active_executions: int
    queued_executions: int
    total_workflows: int
    active_workflows: int


class HealthResponse(BaseModel):
    status: Literal["healthy", "degraded"]
    checks: HealthChecks
    stats: HealthStats | None


class SchedulerStatus(BaseModel):
    workers: int = Field(description="threads (local) or concurrent consumers that start executions")
    max_concurrent: int = Field(description="executions running at once, at most")
    queued: int
    running: int


_ERROR_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, bad cursor)",
    401: "No API key, or not a valid one",
    403: "Needs an admin key",
    404: "Not found (or another owner's)",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Invalid request or definition; every problem with its location",
    429: "Too many at once for this owner (event streams)",
    503: "A backend (the secret store) cannot answer now; try again later",
}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the errors an operation may answer (always in ErrorResponse)."""
    return {code: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[code]} for code in status_codes}


#: what any operation under /api/v1 may answer: a key problem, a malformed or too large request
COMMON_ERRORS = error_responses(400, 401, 413)
