"""ScriptRunner Lambda: runs one script step's script for the StepRunner, in a function with no
permissions and no secrets, and leaves no process behind (steps/script_remote.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.observability import logger
from orchestrator.steps.script_remote import RemoteScript, reap_strays, run_here


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext,
                   reap: Callable[[], int] | None = reap_strays) -> dict[str, Any]:
    return run_here(RemoteScript.model_validate(event), reap=reap).model_dump(mode="json")
