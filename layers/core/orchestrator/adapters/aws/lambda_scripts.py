"""The ScriptRunner function, invoked synchronously: script steps of the cloud run there (see
``steps/script_remote.py``)."""

from __future__ import annotations

import json
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.clients import LazyClient, error_message
from orchestrator.steps.base import StepError
from orchestrator.steps.script_remote import RemoteOutcome, RemoteScript

#: a script may run up to Lambda's 15 minutes: the client must wait as long, and never retry by itself
#: (a retried invocation would run the script twice)
_INVOKE_CONFIG = Config(read_timeout=960, connect_timeout=10, retries={"total_max_attempts": 1})


class LambdaScriptRunner:
    def __init__(self, function: str, *, region: str | None = None, client: Any = None) -> None:
        self.function = function
        self._client = LazyClient("lambda", region=region, client=client, config=_INVOKE_CONFIG)

    def run(self, script: RemoteScript) -> RemoteOutcome:
        try:
            response = self._client.get().invoke(FunctionName=self.function, InvocationType="RequestResponse",
                                              Payload=script.model_dump_json().encode("utf-8"))
            payload = response["Payload"].read()
        except ClientError as error:
            # throttled or the service failed: the script did not run, a retry of the step may
            raise StepError("Script.RunnerUnavailable", f"the ScriptRunner function cannot be invoked: "
                            f"{error_message(error)}", retryable=True) from None
        except BotoCoreError as error:
            raise StepError("Script.RunnerUnavailable", f"the ScriptRunner function cannot be invoked: {error}",
                            retryable=True) from None
        if response.get("FunctionError"):
            # the runner itself failed (out of memory, its own timeout): the script's fate is unknown
            detail = _error_text(payload)
            raise StepError("Script.RunnerFailed", f"the ScriptRunner function failed: {detail}", retryable=True)
        return RemoteOutcome.model_validate_json(payload)


def _error_text(payload: bytes) -> str:
    try:
        error = json.loads(payload)
        return f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"[:500]
    except (ValueError, AttributeError):
        return payload[:500].decode("utf-8", errors="replace")
