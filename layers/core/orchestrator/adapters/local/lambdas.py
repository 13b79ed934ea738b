"""Resolves Lambda Task resources to the in-process handlers of functions/<name>/app.py."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.adapters.local.sam_template import FunctionSpec, SamTemplate

Handler = Callable[[Any, Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "local"
    log_stream_name: str = "local"
    timeout_seconds: float = 900.0
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


class UnknownFunction(LookupError):
    pass


class LocalLambdas:
    """``invoke(resource_or_function_arn, payload)`` for the ASL interpreter, by the template's functions."""

    def __init__(self, template: SamTemplate, overrides: dict[str, Handler] | None = None) -> None:
        self._by_arn: dict[str, FunctionSpec] = {spec.arn: spec for spec in template.functions.values()}
        self._by_name: dict[str, FunctionSpec] = {spec.logical_id: spec for spec in template.functions.values()}
        self._handlers: dict[str, Handler] = dict(overrides or {})
        self._lock = threading.Lock()

    def override(self, logical_id: str, handler: Handler) -> None:
        if logical_id not in self._by_name:
            raise UnknownFunction(f"no function '{logical_id}' in template.yaml")
        self._handlers[logical_id] = handler

    def _spec(self, function: str) -> FunctionSpec:
        # FunctionName may be an ARN, an ARN with a qualifier, or the bare name
        base = function.split(":function:")[-1].split(":")[0] if ":function:" in function else function
        spec = self._by_name.get(base) or self._by_arn.get(function)
        if spec is None:
            raise UnknownFunction(f"no function '{function}' in template.yaml")
        return spec

    def handler(self, function: str) -> Handler:
        spec = self._spec(function)
        cached = self._handlers.get(spec.logical_id)
        if cached is not None:
            return cached
        with self._lock:
            if spec.logical_id not in self._handlers:
                self._handlers[spec.logical_id] = _import_handler(spec)
            return self._handlers[spec.logical_id]

    def invoke(self, function: str, payload: Any) -> Any:
        spec = self._spec(function)
        context = LocalLambdaContext(function_name=spec.logical_id, invoked_function_arn=spec.arn)
        return self.handler(function)(payload, context)


def _import_handler(spec: FunctionSpec) -> Handler:
    module_file, _, attribute = spec.handler.rpartition(".")
    path = spec.code_dir / f"{module_file.replace('.', '/')}.py"
    module_name = f"orchestrator_functions.{spec.logical_id}.{module_file}"
    module = sys.modules.get(module_name)
    if module is None:
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise UnknownFunction(f"{spec.logical_id}: cannot load handler file {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        loader_spec.loader.exec_module(module)
    return getattr(module, attribute)
