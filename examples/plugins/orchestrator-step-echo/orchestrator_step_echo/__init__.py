"""A minimal step executor shipped as its own package, to show the plug-in contract.

```yaml
- id: say
  type: echo
  config: {message: "hello {{variables.name}}", uppercase: true}
  input_mapping: {order: "{{steps.fetch.output.body.id}}"}
```
Output: ``{"message": "HELLO ...", "inputs": {"order": ...}, "attempt": 1}``.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from orchestrator.steps.base import StepConfig, StepContext, StepError, StepResult
from pydantic import BaseModel, Field


class EchoConfig(StepConfig):
    message: str = ""
    uppercase: bool = False
    #: fail with a retryable error on attempts before this one, to try retry policies out
    fail_until_attempt: int = Field(default=0, ge=0)


class EchoExecutor:
    type_name: ClassVar[str] = "echo"
    config_model: ClassVar[type[BaseModel]] = EchoConfig

    def execute(self, config: EchoConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        started = time.time()
        if ctx.attempt < config.fail_until_attempt:
            raise StepError("Echo.NotYet", f"attempt {ctx.attempt} of step {ctx.step_id} fails on purpose", retryable=True)
        message = config.message.upper() if config.uppercase else config.message
        ctx.log(f"echo: {message}")
        return StepResult(
            output={"message": message, "inputs": inputs, "attempt": ctx.attempt},
            started_at=started,
            finished_at=time.time(),
        )
