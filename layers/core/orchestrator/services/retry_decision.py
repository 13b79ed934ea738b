"""When a failed step runs again, and after how long, in whole seconds for the state machine's Wait."""

from __future__ import annotations

import math

from orchestrator.domain.workflow import RetryPolicy
from orchestrator.steps.base import StepError


def retry_delay(policy: RetryPolicy | None, error: StepError, attempt: int) -> int | None:
    """Seconds to wait before attempt ``attempt + 1``, or None when the step must not run again.

    Step Functions' Wait takes whole seconds, so the delay is rounded up; a Retry-After the peer sent
    (429/503) is a floor.
    """
    if policy is None or attempt >= policy.max_attempts:
        return None
    if not policy.applies_to(error.error, retryable=error.retryable):
        return None
    delay = policy.delay_before(attempt + 1)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        delay = max(delay, float(retry_after))
    return math.ceil(delay)
