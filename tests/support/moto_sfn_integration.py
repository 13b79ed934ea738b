"""moto's ``arn:aws:states:::states:startExecution[.sync|.sync:2]`` integration, made to speak the API.

moto 5.2.5 (pinned in pyproject.toml) took LocalStack's Step Functions interpreter without its parameter
and response normalisation: it calls boto3's ``start_execution(StateMachineArn=...)`` with the state's
PascalCase field names (botocore refuses them: ``KeyError: 'StateMachineArn'``), and returns boto3's
camelCase responses, dates as datetimes, where Step Functions returns PascalCase (``ExecutionArn``,
``Status``, ``Error`` ...) and epoch milliseconds.
These two private methods of ``StateTaskServiceSfn`` are the only places patched; Input and Output (the
executions' own data) pass through untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from unittest import mock

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)

#: response members whose values are the executions' data, not API structures
_DATA_MEMBERS = {"input", "output"}


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _normalise_parameters(self: Any, parameters: dict, boto_service_name: str | None = None,
                          service_action_name: str | None = None) -> None:
    for key in list(parameters):
        parameters[_camel(key)] = parameters.pop(key)


def _normalise_response(self: Any, response: Any, boto_service_name: str | None = None,
                        service_action_name: str | None = None) -> None:
    if not isinstance(response, dict):
        return
    for key in list(response):
        value = response.pop(key)
        if key not in _DATA_MEMBERS and isinstance(value, dict):
            _normalise_response(self, value)
        if isinstance(value, datetime):
            value = int(value.timestamp() * 1000)  # as the service integrations answer dates: epoch millis
        response[_pascal(key)] = value


@contextmanager
def speaking_sfn_integration() -> Iterator[None]:
    original = StateTaskServiceSfn._normalise_parameters

    def normalise_parameters(self: Any, parameters: dict, boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:
        original(self, parameters, boto_service_name, service_action_name)  # moto's own: Input as JSON text
        _normalise_parameters(self, parameters)

    def eval_service_task(self: Any, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                          state_credentials: Any) -> None:
        eval_original(self, env, resource_runtime_part, normalised_parameters, state_credentials)
        _normalise_response(self, env.stack[-1])  # StartExecution's answer, read as ExecutionArn by .sync

    eval_original = StateTaskServiceSfn._eval_service_task
    with mock.patch.object(StateTaskServiceSfn, "_normalise_parameters", normalise_parameters), \
            mock.patch.object(StateTaskServiceSfn, "_eval_service_task", eval_service_task), \
            mock.patch.object(StateTaskServiceSfn, "_normalise_response", _normalise_response):
        yield
