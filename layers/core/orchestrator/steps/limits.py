"""Time limits shared by executors: a config's own timeout never outlives the step's timeout."""

from __future__ import annotations

from orchestrator.steps.base import StepContext


def effective_timeout(configured: float | None, ctx: StepContext, default: float | None = None) -> float | None:
    """The shortest of the config's timeout (or ``default`` when the config has none) and the step's."""
    candidates = [t for t in (configured if configured is not None else default, ctx.timeout_seconds) if t]
    return min(candidates) if candidates else None
