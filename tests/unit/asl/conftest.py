"""Fixtures of the ASL interpreter tests: fake Lambda functions, a fake clock, an interpreter."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orchestrator.asl import FakeClock, Interpreter

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{}"


class Functions:
    """In-process stand-ins for Lambda functions, addressed by name, ARN or ARN:qualifier.

    Records every call (function name, event) in order; thread-safe, as Map iterations call concurrently.
    """

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[Any], Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, name: str, handler: Callable[[Any], Any]) -> str:
        self.handlers[name] = handler
        return FUNCTION_ARN.format(name)

    def names_called(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self.calls]

    def __call__(self, resource: str, payload: Any) -> Any:
        name = resource.split(":function:")[-1].split(":")[0] if ":function:" in resource else resource
        with self._lock:
            self.calls.append((name, payload))
        return self.handlers[name](payload)


@pytest.fixture
def functions() -> Functions:
    return Functions()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def interpreter(functions: Functions, clock: FakeClock) -> Iterator[Interpreter]:
    with Interpreter(invoke=functions, clock=clock) as instance:
        yield instance


def event_types(history: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in history]


@pytest.fixture
def types_of() -> Callable[[list[dict[str, Any]]], list[str]]:
    return event_types
