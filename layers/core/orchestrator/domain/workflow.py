"""The workflow language: pydantic models of seed 002's YAML/JSON format, plus when/retry/timeout/on_error.

These models check the shape of one workflow (types, required fields, durations, cron, expressions'
syntax). Checks that need the whole workflow (unknown or duplicate step ids, cycles, template references,
executor configs) are in ``validation.py``; ``loader.py`` runs both, so a definition that comes out of
``load_workflow`` / ``parse_workflow`` / ``definition_from_dict`` is valid as a whole.
"""

from __future__ import annotations

import random
import re
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from orchestrator.domain.durations import Duration, NonNegativeDuration
from orchestrator.domain.expressions import compile_expression
from orchestrator.domain.identifiers import Identifier
from orchestrator.domain.templates import whole_reference

#: step types the step runner itself implements (they nest other steps)
STRUCTURAL_TYPES = frozenset({"condition", "loop", "parallel"})

_STEP_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,79}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: ``retry_on`` entries that match every error, retryable or not (the second is Step Functions' spelling)
RETRY_ALL = frozenset({"*", "States.ALL"})


def _check_step_id(value: str) -> str:
    if not _STEP_ID.fullmatch(value):
        raise ValueError(
            f"invalid step id {value!r}: use letters, digits, '_' and '-', starting with a letter or '_' "
            "(at most 80 characters)"
        )
    return value


def _check_expression(value: str) -> str:
    compile_expression(value)
    return value


def _bool_to_expression(value: Any) -> Any:
    # YAML reads `when: true` as a bool; as an expression it is the constant True
    return repr(value) if isinstance(value, bool) else value


def _one_or_many(value: Any) -> Any:
    # `depends_on: fetch` reads naturally in YAML; it means a list of one
    return [value] if isinstance(value, str) else value


StepId = Annotated[Identifier, AfterValidator(_check_step_id)]
ExpressionText = Annotated[
    str,
    BeforeValidator(_bool_to_expression),
    AfterValidator(_check_expression),
    WithJsonSchema({"type": ["string", "boolean"]}),
]
StepIdList = Annotated[
    list[str],
    BeforeValidator(_one_or_many),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class _Model(BaseModel):
    # unknown keys are mistakes (a `depend_on` typo must not silently drop a dependency)
    model_config = ConfigDict(extra="forbid")


# --- retry --------------------------------------------------------------------------------------------


def _jitter(value: Any) -> Any:
    if isinstance(value, bool):
        return "full" if value else "none"
    return value.lower() if isinstance(value, str) else value


class RetryPolicy(_Model):
    """How a failed step is tried again. ``max_attempts`` counts every attempt, the first one included."""

    max_attempts: int = Field(3, ge=1, le=100, description="attempts in all, the first one included")
    initial_delay: NonNegativeDuration = Field(1.0, description="wait before the first retry")
    max_delay: Duration = Field(300.0, description="no wait is longer than this")
    backoff_factor: float = Field(2.0, ge=1.0, le=100.0, description="each wait is this many times the last")
    jitter: Annotated[
        Literal["full", "none"],
        BeforeValidator(_jitter),
        WithJsonSchema({"anyOf": [{"type": "boolean"}, {"enum": ["full", "none"]}]}),
    ] = Field("none", description="'full' (or true) waits a random time up to the computed delay")
    retry_on: list[str] | None = Field(
        None,
        description="error names to retry ('Http' also matches 'Http.503'; '*' matches all); "
        "default: the errors the executor marks retryable",
    )

    @model_validator(mode="after")
    def _delays_in_order(self) -> RetryPolicy:
        if self.max_delay < self.initial_delay:
            raise ValueError("max_delay must not be shorter than initial_delay")
        return self

    def applies_to(self, error: str, *, retryable: bool) -> bool:
        """Whether an error of this name (and retryability, as the executor classified it) is retried."""
        if self.retry_on is None:
            return retryable
        return any(
            pattern in RETRY_ALL or error == pattern or error.startswith(pattern + ".")
            for pattern in self.retry_on
        )

    def delay_before(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before attempt number ``attempt`` (2 is the first retry)."""
        retries_so_far = max(attempt - 2, 0)
        delay = min(self.max_delay, self.initial_delay * self.backoff_factor**retries_so_far)
        return delay * rand() if self.jitter == "full" else delay


# --- steps --------------------------------------------------------------------------------------------


class StepBase(_Model):
    """What every step has, whatever its type."""

    id: StepId = Field(description="unique in the workflow, nested steps included")
    name: Identifier | None = Field(None, description="a human name; defaults to the id")
    type: str  # narrowed by each kind of step; declared here so that dumps read id, name, type, config, ...
    config: Any = None
    depends_on: StepIdList = Field(
        default_factory=list, description="ids of steps (in the same list) that must finish first"
    )
    input_mapping: dict[str, Any] = Field(
        default_factory=dict, description="the executor's inputs; values may be {{...}} templates"
    )
    output_mapping: dict[str, Any] = Field(
        default_factory=dict,
        description="reshapes the output: key -> template over {{output...}} (this step's raw output)",
    )
    when: ExpressionText | None = Field(None, description="expression; when false the step is skipped")
    retry: RetryPolicy | None = None
    timeout: Duration | None = Field(None, description="per attempt, e.g. '30s', '5m'")
    on_error: Literal["fail", "continue"] = Field(
        "fail", description="'continue': a failure (after retries) does not fail the workflow"
    )
    priority: int = Field(0, description="higher runs first among steps that are ready together")

    @property
    def display_name(self) -> str:
        return self.name or self.id

    def nested_step_lists(self) -> list[list[StepDefinition]]:
        """The step lists this step runs inside itself (a loop's body, a parallel's branches)."""
        return []


class TaskStep(StepBase):
    """A step run by an executor (http, script, agent, ... or a plug-in's type)."""

    type: str = Field(
        description="executor type: http, webhook, script, email, database, llm, agent, or a plug-in's",
        json_schema_extra={"not": {"enum": sorted(STRUCTURAL_TYPES)}},
    )
    config: dict[str, Any] = Field(
        default_factory=dict, description="the executor's config; may hold templates"
    )


class ConditionConfig(_Model):
    expression: ExpressionText = Field(description="e.g. steps.fetch.output.count > 10")


class ConditionStep(StepBase):
    """Evaluates an expression; output ``{"result": bool, "value": ...}``; branch with ``when`` downstream."""

    type: Literal["condition"]
    config: ConditionConfig


def _loop_items(value: Any) -> Any:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and whole_reference(value) is not None:
        return value
    raise ValueError("items must be a list or one template such as '{{steps.fetch.output.rows}}'")


def _loop_variable(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value) or value == "index":
        raise ValueError(
            f"invalid item variable {value!r}: use a name (letters, digits, '_') other than 'index'"
        )
    return value


class LoopConfig(_Model):
    items: Annotated[Any, AfterValidator(_loop_items)] = Field(
        description="a list, or a template that yields one, e.g. '{{steps.fetch.output.rows}}'",
        json_schema_extra={"anyOf": [{"type": "array"}, {"type": "string", "pattern": r"^\{\{.*\}\}$"}]},
    )
    steps: list[StepDefinition] = Field(
        min_length=1, description="run once per item; {{loop.item}}, {{loop.index}}"
    )
    max_concurrency: int | None = Field(None, ge=1, description="iterations at once; default 16, at most 64")
    item_var: Annotated[str, AfterValidator(_loop_variable)] = Field(
        "item", description="the name of the item in templates: {{loop.<item_var>}}"
    )


class LoopStep(StepBase):
    type: Literal["loop"]
    config: LoopConfig

    def nested_step_lists(self) -> list[list[StepDefinition]]:
        return [self.config.steps]


class ParallelConfig(_Model):
    branches: list[Annotated[list[StepDefinition], Field(min_length=1)]] = Field(
        min_length=1, description="step lists that run side by side"
    )


class ParallelStep(StepBase):
    type: Literal["parallel"]
    config: ParallelConfig

    def nested_step_lists(self) -> list[list[StepDefinition]]:
        return list(self.config.branches)


def _step_kind(value: Any) -> str:
    step_type = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return step_type if isinstance(step_type, str) and step_type in STRUCTURAL_TYPES else "task"


#: one step of any type; the structural types get their typed config, every other type is a TaskStep
StepDefinition = Annotated[
    Annotated[TaskStep, Tag("task")]
    | Annotated[ConditionStep, Tag("condition")]
    | Annotated[LoopStep, Tag("loop")]
    | Annotated[ParallelStep, Tag("parallel")],
    Discriminator(_step_kind),
]


# --- triggers -----------------------------------------------------------------------------------------


def _check_cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(
            f"invalid cron {value!r}: use 5 fields (minute hour day-of-month month day-of-week), e.g. '0 2 * * *'"
        )
    try:
        croniter(value)
    # croniter's errors are ValueErrors; a few bad month or day names raise KeyError
    except (ValueError, KeyError) as error:
        raise ValueError(f"invalid cron {value!r}: {error}") from None
    return value


def _check_time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as 'Asia/Shanghai' or 'UTC')"
        ) from None
    return value


def _check_event_pattern(pattern: dict[str, Any], path: str = "pattern") -> dict[str, Any]:
    # EventBridge's rule: every leaf of a pattern is a non-empty list of values or matchers
    if not pattern:
        raise ValueError(f"{path} must not be empty")
    for key, value in pattern.items():
        if isinstance(value, dict):
            _check_event_pattern(value, f"{path}.{key}")
        elif not isinstance(value, list) or not value:
            raise ValueError(f'{path}.{key} must be a non-empty list of values, e.g. ["order.created"]')
    return pattern


class TriggerBase(_Model):
    name: Identifier | None = None
    is_enabled: bool = True


class ManualTrigger(TriggerBase):
    type: Literal["manual"]
    config: dict[str, Any] = Field(default_factory=dict)


class ScheduleConfig(_Model):
    cron: Annotated[str, AfterValidator(_check_cron)] = Field(description="5 fields, e.g. '0 2 * * *'")
    timezone: Annotated[str, AfterValidator(_check_time_zone)] = Field("UTC", description="IANA name")


class ScheduleTrigger(TriggerBase):
    type: Literal["schedule"]
    config: ScheduleConfig


def _url_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"a webhook path starts with '/', found {value!r}")
    return value


def webhook_path(path: str) -> str:
    """``/hooks/deploy``: one leading slash, no trailing one, so the URL and the config compare equal."""
    return "/" + path.strip("/")


class WebhookConfig(_Model):
    path: Annotated[Identifier, AfterValidator(_url_path)] = Field(description="URL path, starting with '/'")
    method: Annotated[
        Literal["GET", "POST", "PUT", "PATCH", "DELETE"],
        BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
    ] = "POST"
    secret: str | None = Field(
        None, description="shared secret for request signatures; e.g. {{secrets.hook}}"
    )


class WebhookTrigger(TriggerBase):
    type: Literal["webhook"]
    config: WebhookConfig


class EventConfig(_Model):
    pattern: Annotated[dict[str, Any], AfterValidator(_check_event_pattern)] = Field(
        description="an EventBridge event pattern"
    )


class EventTrigger(TriggerBase):
    type: Literal["event"]
    config: EventConfig


#: names a condition trigger's expression may use: what it read from its source, and the variables
CONDITION_TRIGGER_ROOTS = frozenset({"source", "variables"})


class ConditionTriggerConfig(_Model):
    expression: str = Field(description="checked every interval against {source, variables}")
    source: str = Field(description="where the data comes from, e.g. a URL that answers JSON")
    interval: Duration = Field(60.0, description="how often the expression is checked")

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        compile_expression(value, roots=CONDITION_TRIGGER_ROOTS)
        return value


class ConditionTrigger(TriggerBase):
    type: Literal["condition"]
    config: ConditionTriggerConfig


Trigger = Annotated[
    ManualTrigger | ScheduleTrigger | WebhookTrigger | EventTrigger | ConditionTrigger,
    Field(discriminator="type"),
]


# --- the workflow -------------------------------------------------------------------------------------


def _version_text(value: Any) -> Any:
    # `version: 1.0` unquoted in YAML is a float
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class WorkflowDefinition(_Model):
    """One workflow as written in YAML or JSON (seed 002's "工作流定义格式")."""

    model_config = ConfigDict(
        extra="forbid",
        title="Orchestrator workflow",
        json_schema_extra={"description": "A workflow definition (YAML or JSON) for the Orchestrator."},
    )

    version: Annotated[
        str, BeforeValidator(_version_text), WithJsonSchema({"type": ["string", "number"]})
    ] = "1.0"
    name: Identifier = Field(min_length=1)
    description: str = ""
    tags: list[Identifier] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict, description="{{variables.<name>}} in templates")
    max_concurrency: int | None = Field(None, ge=1, description="steps running at once; default: no limit")
    steps: list[StepDefinition] = Field(min_length=1)
    triggers: list[Trigger] = Field(default_factory=list)

    _index: dict[str, StepDefinition] | None = PrivateAttr(None)

    def iter_steps(self) -> Iterator[StepDefinition]:
        """Every step, nested ones included, depth first in document order."""
        pending: list[StepDefinition] = list(reversed(self.steps))
        while pending:
            step = pending.pop()
            yield step
            for step_list in reversed(step.nested_step_lists()):
                pending.extend(reversed(step_list))

    def step(self, step_id: str) -> StepDefinition:
        """The step with this id, nested or not; KeyError naming the id otherwise."""
        if self._index is None:
            self._index = {step.id: step for step in self.iter_steps()}
        try:
            return self._index[step_id]
        except KeyError:
            raise KeyError(f"workflow {self.name!r} has no step {step_id!r}") from None


for _model in (LoopConfig, ParallelConfig, WorkflowDefinition):
    _model.model_rebuild()
