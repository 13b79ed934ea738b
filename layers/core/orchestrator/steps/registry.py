"""Executors by type name: the built-in ones, plus third-party ones from the ``orchestrator.steps`` entry points."""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel

from orchestrator.domain.workflow import STRUCTURAL_TYPES
from orchestrator.observability import logger
from orchestrator.steps.base import StepExecutor

ENTRY_POINT_GROUP = "orchestrator.steps"

#: type name -> "module:Class" of the executors shipped with the core package
BUILTIN_EXECUTORS: dict[str, str] = {
    "http": "orchestrator.steps.http:HttpExecutor",
    "webhook": "orchestrator.steps.webhook:WebhookExecutor",
    "script": "orchestrator.steps.script:ScriptExecutor",
    "email": "orchestrator.steps.email:EmailExecutor",
    "database": "orchestrator.steps.database:DatabaseExecutor",
    "llm": "orchestrator.steps.llm:LlmExecutor",
    "agent": "orchestrator.steps.agent:AgentExecutor",
}


_registered: dict[str, StepExecutor[Any]] = {}


def register(executor: StepExecutor[Any]) -> None:
    """Seed 002's RegisterStepExecutor: a later registration of the same type replaces the earlier one."""
    _registered[executor.type_name] = executor
    known_types.cache_clear()


def _load_builtin(type_name: str) -> StepExecutor[Any] | None:
    target = BUILTIN_EXECUTORS.get(type_name)
    if target is None:
        return None
    module_name, _, class_name = target.partition(":")
    executor = getattr(import_module(module_name), class_name)()
    _registered[type_name] = executor
    return executor


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def get_executor(type_name: str) -> StepExecutor[Any] | None:
    if type_name in _registered:
        return _registered[type_name]
    builtin = _load_builtin(type_name)
    if builtin is not None:
        return builtin
    ep = _entry_points().get(type_name)
    if ep is None:
        return None
    try:
        loaded = ep.load()
    except Exception:  # a broken plug-in must not take the orchestrator down
        logger.exception("cannot load step executor plug-in", extra={"step_type": type_name, "entry_point": ep.value})
        return None
    executor = loaded() if isinstance(loaded, type) else loaded
    _registered[type_name] = executor
    return executor


@lru_cache(maxsize=1)
def known_types() -> frozenset[str]:
    return frozenset(BUILTIN_EXECUTORS) | frozenset(_registered) | frozenset(_entry_points()) | STRUCTURAL_TYPES


class RegisteredStepTypes:
    """The step types of this process as workflow validation sees them (``domain.validation.StepTypes``)."""

    def known_types(self) -> frozenset[str]:
        return known_types()

    def config_model(self, step_type: str) -> type[BaseModel] | None:
        """The config model of the executor of ``step_type``, if it has one that can be loaded."""
        try:
            executor = get_executor(step_type)
        except Exception:  # an executor module that fails to import is a packaging bug, not the workflow's
            return None
        model = getattr(executor, "config_model", None)
        return model if isinstance(model, type) and issubclass(model, BaseModel) else None


STEP_TYPES = RegisteredStepTypes()
