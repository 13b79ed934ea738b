"""What every step executor is: a type name, a pydantic config model and an ``execute`` call.

The step runner renders a step's templates (secrets last), validates the rendered config against the
executor's ``config_model`` and calls ``execute``. Executors never see template syntax, and they raise
``StepError`` with ``retryable`` set so that retry policies act on the right failures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class StepConfig(BaseModel):
    """Base of every executor's config model: unknown keys are an error, caught at validation time."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StepError(Exception):
    """A classified step failure. ``error`` is a short machine name (``Http.503``, ``Script.ExitCode``)."""

    def __init__(self, error: str, cause: str, *, retryable: bool, output: Any = None) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.retryable = retryable
        self.output = output


class StepTimeout(StepError):
    def __init__(self, cause: str) -> None:
        super().__init__("States.Timeout", cause, retryable=True)


@dataclass
class StepResult:
    output: Any = None
    logs: list[str] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0


@dataclass
class StepContext:
    """What an executor may know about where it runs. Secrets are already in the rendered config."""

    execution_id: str
    step_id: str
    attempt: int = 1
    workflow_dir: Path | None = None
    timeout_seconds: float | None = None
    #: raw definitions of the workflow's steps, by id (the agent executor offers some as tools)
    workflow_steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: renders templates of a raw value against this execution's scope (used for tool calls)
    render: Callable[[Any], Any] = field(default=lambda value: value)
    #: masks every known secret value in a text; executors pass logs and error texts through it
    mask: Callable[[str], str] = field(default=lambda text: text)
    logs: list[str] = field(default_factory=list)
    #: whose execution this is; None for the single-user ``orchestrator run`` (no tenants)
    owner_id: str | None = None
    #: the owner is the operator (the admin owner, or the single-user run): may use server-wide resources.
    #: False unless the runner says so: a context built without thought gets a tenant's rights, not more
    trusted: bool = False
    #: set when the execution is cancelled (services/cancellation.py): long-running executors stop at once
    cancelled: threading.Event | None = None

    def log(self, line: str) -> None:
        self.logs.append(self.mask(line))

    def deadline(self) -> float | None:
        return None if self.timeout_seconds is None else time.monotonic() + self.timeout_seconds


class StepExecutor(Protocol, Generic[ConfigT]):
    type_name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]

    def execute(self, config: ConfigT, inputs: dict[str, Any], ctx: StepContext) -> StepResult: ...
